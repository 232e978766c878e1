"""Reports rendered from results.json (+ audit_data.npz beside it): Markdown, self-contained HTML, plots."""
