"""Membership attacks. Adding one: a module with a class shaped like base.Attack, and one line below."""

from cpaudit.audit.attacks.base import Attack
from cpaudit.audit.attacks.classifier_oracle import ClassifierOracleAttack
from cpaudit.audit.attacks.loss import LossAttack
from cpaudit.audit.attacks.pia import PIAAttack
from cpaudit.audit.attacks.sample_only import SampleOnlyAttack
from cpaudit.audit.attacks.secmi import SecMIAttack
from cpaudit.audit.attacks.sima import SimAAttack

ATTACKS: tuple[Attack, ...] = (
    SampleOnlyAttack(),
    LossAttack(),
    SecMIAttack(),
    PIAAttack(),
    SimAAttack(),
    ClassifierOracleAttack(),
)
