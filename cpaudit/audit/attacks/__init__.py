"""Membership attacks. Adding one: a module with a class shaped like base.Attack, and one line below."""

from cpaudit.audit.attacks.base import Attack
from cpaudit.audit.attacks.loss import LossAttack
from cpaudit.audit.attacks.sample_only import SampleOnlyAttack

ATTACKS: tuple[Attack, ...] = (
    SampleOnlyAttack(),
    LossAttack(),
)
