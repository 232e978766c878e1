"""cpaudit: privacy audits and CPSample protection for image diffusion models.

In a notebook: `report = cpaudit.audit(samples, members=train_images, holdout=held_out_images)`, then
`report.passed`, `report.attacks` (a DataFrame), `report.replicas()`, `report.to_json()`.
"""

from cpaudit.api import audit, fid, protect, sample, train_classifier, train_diffusion
from cpaudit.errors import CpauditError, InputError
from cpaudit.results import AuditReport, FidReport
from cpaudit.sampling.protection import Protection
from cpaudit.version import __version__

__all__ = ["AuditReport", "CpauditError", "FidReport", "InputError", "Protection", "__version__", "audit", "fid",
           "protect", "sample", "train_classifier", "train_diffusion"]
