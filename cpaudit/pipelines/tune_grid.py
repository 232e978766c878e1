"""The settings `cpaudit tune` sweeps, per defence. Grids bracket the calibration's measurements
(shared/calibration.md): the learned classifier removes replicas from scale 30-100 at alpha 0.2-0.4, the
exact posterior from scale 3; repulsion and the x0-space variant have no prior figures, so theirs are wide.
Issue 39's families push from the member being copied: CPSample with repulsion after it, and the exact
posterior's away-from-member rule; "learned-check" is the learned classifier with its confidence pass run every
third step (benchmarks/cpsample_cuts.py measures what that moves)."""

from __future__ import annotations

from cpaudit.sampling.defences import Setting
from cpaudit.sampling.protection import Protection
from cpaudit.sampling.repulsion import Repulsion
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD
from cpaudit.train.dp import DPConfig

LEARNED = "CPSample, learned classifier"
LEARNED_HALF = "CPSample, learned, toward-half rule"
EXACT = "CPSample, exact posterior"
EXACT_HALF = "CPSample, exact, toward-half rule"
WINDOW = "CPSample, learned, t window"
X0 = "CPSample, learned, guidance on x0"
EXACT_X0 = "CPSample, exact, guidance on x0"
CPS_REJECT = "CPSample then rejection"
CPS_REPULSION = "CPSample then nearest-member repulsion"
EXACT_MEMBER = "CPSample, exact, away from the nearest member"
LEARNED_CHECK = "CPSample, learned, confidence every 3rd step"
REJECTION = "rejection"
REPULSION = "nearest-member repulsion"
DP = "DP-SGD"
DP_CONTROL = "DP control (no clipping, no noise)"
NONE = "none"

# The CPSample settings `sample --protect` can run, by classifier kind: where the defaults are chosen from.
KIND_FAMILIES = {"learned": (LEARNED, LEARNED_HALF, WINDOW, X0), "exact": (EXACT, EXACT_HALF, EXACT_X0)}

# --defences names (short, without commas) for each defence.
FAMILIES = {
    "learned": LEARNED,
    "learned-half": LEARNED_HALF,
    "exact": EXACT,
    "exact-half": EXACT_HALF,
    "window": WINDOW,
    "x0": X0,
    "exact-x0": EXACT_X0,
    "cpsample+rejection": CPS_REJECT,
    "cpsample+repulsion": CPS_REPULSION,
    "exact-member": EXACT_MEMBER,
    "learned-check": LEARNED_CHECK,
    "rejection": REJECTION,
    "repulsion": REPULSION,
    "dp": DP,
}


def _cps(defence: str, classifier: str, alphas, scales, **kw) -> list[Setting]:
    extra = "".join(f", {k.replace('_', ' ')} {v}" for k, v in kw.items() if k != "rule" and k != "space")
    return [
        Setting(defence, f"alpha {a:g}, scale {s:g}{extra}", protection=Protection(classifier, a, s, **kw))
        for a in alphas
        for s in scales
    ]


def _cps_repulsion(classifier: str, scales, repulsion_scales, small: bool) -> list[Setting]:
    """CPSample (alpha 0.4) with nearest-member repulsion (lambda 0.8, the repulsion family's choice on the demo,
    reports/tune/report.md) after it; small: the two corners (weakest both, strongest both)."""
    pairs = [(s, r) for s in scales for r in repulsion_scales]
    if small:
        pairs = [pairs[0], pairs[-1]]
    return [
        Setting(
            CPS_REPULSION,
            f"alpha 0.4, scale {s:g}, repulsion lambda 0.8, scale {r:g}",
            protection=Protection(classifier, 0.4, s),
            repulsion=Repulsion(0.8, r),
        )
        for s, r in pairs
    ]


def sweep_settings(classifier: str | None, dp_epsilons: tuple[float, ...], small: bool = False) -> list[Setting]:
    """Every point of the sweep, the unprotected one first. small: two points a defence (tests)."""
    a2, a1 = ((0.4,), (0.4,)) if small else ((0.2, 0.4), (0.4,))
    pick = (lambda xs: xs[:: max(len(xs) - 1, 1)][:2]) if small else (lambda xs: xs)
    out = [Setting(NONE, "unprotected")]
    if classifier is not None:
        out += _cps(LEARNED, classifier, a2, pick((10, 30, 100, 300)))
        out += _cps(LEARNED_HALF, classifier, a1, pick((30, 100, 300)), rule="toward-half")
        # Guidance at every step of a window (alpha 0.5: the classifier is rarely confident at large t, where
        # the image being drawn is decided): early, or in the middle of the chain.
        for lo, hi in ((300, 999), (100, 600)) if not small else ((300, 999),):
            out += _cps(WINDOW, classifier, (0.5,), pick((10, 30, 100)), t_min=lo, t_max=hi)
        out += _cps(X0, classifier, a1, pick((3, 10, 30, 100)), space="x0")
        out += [
            Setting(
                CPS_REJECT,
                f"alpha 0.4, scale {s:g}, reject at {PIXEL_REPLICA_THRESHOLD:g}",
                protection=Protection(classifier, 0.4, s),
                reject_at=PIXEL_REPLICA_THRESHOLD,
            )
            for s in pick((10, 30))
        ]
        out += _cps_repulsion(classifier, pick((10, 30, 100)), pick((30, 100)), small)
        out += _cps(LEARNED_CHECK, classifier, a1, pick((30, 100, 300)), check_every=3)
    out += _cps(EXACT, "exact", a2, pick((1, 3, 10, 30)))
    out += _cps(EXACT_HALF, "exact", a1, pick((3, 10, 30)), rule="toward-half")
    out += _cps(EXACT_X0, "exact", a1, pick((0.3, 1, 3, 10)), space="x0")
    # Read on x_t: on the predicted x0 (at X0_T) one member always dominates, so it fired on 97% of sample-steps
    # and left AUC 0.870 at 3.1x FID; on x_t scale 3 gave AUC 0.794 at 3.25x, no replicas (issue 39's measurement).
    out += _cps(EXACT_MEMBER, "exact", a2, pick((1, 2, 3, 10)), rule="away-from-member", space="x_t")
    out += [
        Setting(REJECTION, f"reject at {r:g}", reject_at=r) for r in pick((PIXEL_REPLICA_THRESHOLD, 0.96, 0.95))
    ]  # below 0.95 it keeps < 1 in 100
    out += [
        Setting(REPULSION, f"lambda {lam:g}, scale {s:g}", repulsion=Repulsion(lam, s))
        for lam in ((0.7, 0.8, 0.9) if not small else (0.9,))
        for s in pick((10, 30, 100, 300))
    ]
    for e in dp_epsilons:
        out.append(Setting(DP, f"epsilon {e:g} at delta {DPConfig().delta:g}", model=f"dp-eps{e:g}"))
    if dp_epsilons:
        out.append(Setting(DP_CONTROL, "same steps, batch, learning rate", model="dp-control"))
    return out
