"""Build the report Document from results.json (and say which figures it needs)."""

from __future__ import annotations

from cpaudit.report.document import Document, Figure, Para, Section, Table


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def verdict(results: dict) -> tuple[str, bool | None]:
    pol = results.get("policy") or {}
    thresholds = {k: v for k, v in (pol.get("thresholds") or {}).items() if v is not None}
    if not thresholds:
        return "No policy gate was set: the findings below are for a reviewer to judge.", None
    if pol.get("passed"):
        return f"PASSED: all {len(thresholds)} policy gate(s) hold.", True
    return "FAILED: " + "; ".join(pol.get("failures", [])) + ".", False


def gate_rows(results: dict) -> list[list[str]]:
    pol = results.get("policy") or {}
    th = pol.get("thresholds") or {}
    nn, perm, mia = results["nn"], results.get("permutation") or {}, results.get("mia")
    gated_mia = None if not mia else (mia.get("protected") or mia)
    rows = []
    if th.get("max_replica_rate") is not None:
        ok = nn["replica_rate"] <= th["max_replica_rate"]
        rows.append(["replica rate", pct(nn["replica_rate"]), f"at most {pct(th['max_replica_rate'])}", "pass" if ok else "FAIL"])
    if th.get("max_mia_auc") is not None:
        v = None if gated_mia is None else gated_mia["attacker_auc"]
        ok = v is not None and v <= th["max_mia_auc"]
        rows.append(["membership-inference AUC (attacker's best)", num(v), f"at most {num(th['max_mia_auc'])}", "pass" if ok else "FAIL"])
    if th.get("min_permutation_p") is not None:
        ok = perm.get("p_value", 0) >= th["min_permutation_p"]
        rows.append(["permutation-test p-value", f"{perm.get('p_value', float('nan')):.4g}", f"at least {th['min_permutation_p']:g}",
                     "pass" if ok else "FAIL"])
    return rows


def _diverged(run: dict | None) -> str:
    seeds = (run or {}).get("nonfinite_seeds") or []
    if not seeds:
        return "none"
    return f"{len(seeds)}: seeds {', '.join(map(str, seeds[:20]))}{' ...' if len(seeds) > 20 else ''}"


def build_document(results: dict, title: str = "cpaudit privacy audit") -> Document:
    text, passed = verdict(results)
    setup = results.get("setup", {})
    nn = results["nn"]
    perm = results.get("permutation")
    mia = results.get("mia")
    quality = results.get("quality")
    prot = results.get("protection")
    sections: list[Section] = []

    gates = gate_rows(results)
    if gates:
        sections.append(Section("Policy gates", [Table(["gate", "measured", "required", "result"], gates)]))

    model_cfg = setup.get("model_config") or {}
    setup_rows = [
        ["data", str(setup.get("data"))],
        ["data fingerprint (sha256)", str(setup.get("data_fingerprint", ""))[:16] + "..."],
        ["members / held-out", f"{setup.get('n_members')} / {setup.get('n_holdout')}"],
        ["image shape (C, H, W)", str(tuple(setup.get("image_shape", [])))],
        ["samples", f"{setup.get('samples')} ({nn['n_samples']} images)"],
        ["samples that diverged (NaN/inf, not audited)", _diverged(setup.get("sample_run"))],
        ["model", str(setup.get("model"))],
    ]
    if model_cfg:
        unet = model_cfg.get("unet", {})
        setup_rows.append(["model config", f"UNet width {unet.get('base_channels')} x {unet.get('channel_mult')}, "
                                           f"{model_cfg.get('schedule', {}).get('kind')} schedule, T = {model_cfg.get('schedule', {}).get('T')}, "
                                           f"seed {model_cfg.get('seed')}"])
    setup_rows += [
        ["classifier", str(setup.get("classifier"))],
        ["embedding", f"{setup.get('features')}" + ("" if setup.get("features_pretrained", True) else " (random weights: similarities prove little)")],
        ["audit seed", str(setup.get("seed"))],
        ["computed on", str(setup.get("device", "cpu"))],
        ["cpaudit version", str(results.get("cpaudit_version"))],
    ]
    sections.append(Section("Setup", [Table(["item", "value"], setup_rows)]))

    lo, hi = nn["replica_rate_ci95"]
    rep_items = [
        Para(f"{nn['replicas']} of {nn['n_samples']} samples ({pct(nn['replica_rate'])}, 95% Wilson interval "
             f"{pct(lo)} to {pct(hi)}) have a member with {nn['features']} similarity at or above {nn['threshold']:g}. "
             f"Median nearest-member similarity: samples {num(nn.get('median_nearest_member_similarity'))}, held-out images "
             f"{num(nn.get('holdout_median_nearest_member_similarity'))}."),
        Para(f"Data-driven threshold (the 1 - 1/n quantile of the nearest-member similarity of the n = {nn.get('n_holdout')} held-out images): "
             f"{num(nn['data_threshold'])}; {nn.get('replicas_at_data_threshold')} samples exceed it. "
             f"{nn.get('holdout_over_threshold')} held-out images reach the fixed threshold."),
        Para(_search_sentence(nn.get("search") or {})),
        Figure("similarity_histogram", "Nearest-member similarity of samples and of held-out images; dashed: replica threshold."),
        Figure("pairs", "The most similar sample/member pairs."),
    ]
    sections.append(Section("Replication", rep_items))

    if perm:
        sections.append(Section("Permutation test", [
            Para(f"Are samples closer to members than to held-out images? Statistic (mean nearest-member minus nearest-held-out "
                 f"similarity, {perm.get('n_reference')} references each): {perm['statistic']:.4f}; p = {perm['p_value']:.4g} "
                 f"from {perm['n_permutations']} relabellings (one-sided, +1 corrected)."),
            Figure("permutation", "Null distribution of the statistic; the observed value is marked."),
        ]))

    if mia:
        rows = []
        prot_by_t = {b["t"]: b for b in (mia.get("protected") or {}).get("by_t", [])}
        for b in mia["by_t"]:
            p = prot_by_t.get(b["t"])
            rows.append([str(b["t"]), num(b["auc"]), num(b["tpr_at_1pct_fpr"]), f"{b['p_value']:.2g}"]
                        + ([num(p["auc"]), num(p["tpr_at_1pct_fpr"])] if p else []))
        header = ["t", "AUC", "TPR @ 1% FPR", "z-test p"] + (["protected AUC", "protected TPR @ 1% FPR"] if prot_by_t else [])
        items = [
            Para(f"Loss attack (Matsumoto et al. 2023), {mia['n_members']} members vs {mia['n_holdout']} held-out images. "
                 f"Attacker's best: AUC {num(mia['auc'])} at t = {mia['t']} (an AUC below 0.5 leaks too: the attacker flips the sign)."
                 + (f" On the protected denoiser: AUC {num(mia['protected']['auc'])} at t = {mia['protected']['t']}." if mia.get("protected") else "")),
            Table(header, rows),
            Figure("roc", "ROC curves of the loss attack at the attacker's best t."),
            Figure("loss_histogram", "Reconstruction loss of members and held-out images at the attacker's best t."),
        ]
        sections.append(Section("Membership inference", items))

    if quality:
        sections.append(Section("Quality", [Table(["embedding", "FID", "KID", "samples", "held-out reference"], [[
            quality["features"], num(quality["fid"]), f"{quality['kid']:.4f}", str(quality.get("n_samples")), str(quality.get("n_reference"))]]),
            Para(f"FID and KID are computed on the {quality['features']} embedding, so they compare only with figures on the same embedding.")]))

    privacy_rows = []
    if prot:
        privacy_rows.append(["CPSample", f"alpha {prot.get('alpha')}, scale {prot.get('scale')}, rule {prot.get('rule')}, "
                                         f"classifier {prot.get('classifier')}; guidance fired on {pct(prot.get('fired_fraction'))} "
                                         f"of sample-steps ({prot.get('samples_with_guidance')} samples at least once)"])
    dp = (results.get("privacy") or {}).get("dp_epsilon")
    if dp is not None:
        dpc = (model_cfg.get("dp") or {})
        privacy_rows.append(["differential privacy (DP-SGD)", f"epsilon {dp:.2f} at delta {dpc.get('delta')}, noise multiplier "
                                                            f"{num(dpc.get('noise_multiplier'))}, K = {dpc.get('noise_multiplicity')}"])
    if privacy_rows:
        sections.append(Section("Protection and privacy", [Table(["mechanism", "settings"], privacy_rows)]))
    return Document(title, text, passed, sections)


def _search_sentence(search: dict) -> str:
    n = search.get("n_references")
    if search.get("method") == "ivf":
        return (f"Nearest members were found with an approximate IVF index over {n:,} members ({search['nlist']} lists, "
                f"{search['nprobe']} probed per query); its recall@1 against exact search, measured on "
                f"{search['recall_queries']} of the queries, is {search['recall_at_1']:.3f}.")
    return f"Nearest members were found by exact search over {n:,} members." if n else "Nearest members were found by exact search."
