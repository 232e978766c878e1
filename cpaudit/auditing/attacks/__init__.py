"""Membership attacks. Adding one: a module with a class shaped like base.Attack, and one line below."""

from cpaudit.auditing.attacks.base import Attack
from cpaudit.auditing.attacks.classifier_oracle import ClassifierOracleAttack
from cpaudit.auditing.attacks.loss import LossAttack
from cpaudit.auditing.attacks.pia import PIAAttack
from cpaudit.auditing.attacks.sample_only import SampleOnlyAttack
from cpaudit.auditing.attacks.secmi import SecMIAttack
from cpaudit.auditing.attacks.sima import SimAAttack

ATTACKS: tuple[Attack, ...] = (
    SampleOnlyAttack(),
    LossAttack(),
    SecMIAttack(),
    PIAAttack(),
    SimAAttack(),
    ClassifierOracleAttack(),
)
