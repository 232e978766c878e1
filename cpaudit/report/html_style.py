"""The HTML report's one stylesheet: readable at 1280 px, on a 390 px phone and printed.

Colour is never the only signal (each status has its word and icon). Table headers wrap at spaces only and
figures stay on one line: no rule here breaks a word, so a wide table scrolls inside its own container. Printed,
the verdict and headline figures open page 1, the <details> sections are expanded, and rows are never cut."""

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 64rem; margin: 0 auto;
       padding: 1rem; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.8rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
p, figcaption, summary { overflow-wrap: anywhere; }
.verdict { padding: 0.8rem 1rem; border-radius: 6px; font-weight: 600; font-size: 1.1rem; }
.pass { background: #e6f4ea; border: 1px solid #1b7a5c; }
.fail { background: #fdecea; border: 1px solid #c0392b; }
.none { background: #f3f3f3; border: 1px solid #777; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 0.8rem; margin: 1rem 0; }
.verdict-card { border-radius: 6px; padding: 0.6rem 0.9rem; border-width: 2px; }
.verdict-card.fail { border-left: 0.5rem solid #c0392b; }
.verdict-card.pass { border-left: 0.5rem solid #1b7a5c; }
.verdict-card.none { border-left: 0.5rem dashed #777; }
.verdict-card h2 { font-size: 1.05rem; margin: 0.1rem 0 0.3rem; border: 0; padding: 0; }
.verdict-card p { margin: 0.2rem 0; }
.verdict-card .status { font-weight: 800; letter-spacing: 0.04em; }
.fail .status { color: #a5281b; }
.pass .status { color: #14603f; }
.none .status { color: #444; }
.icon { display: inline-block; width: 1.3em; text-align: center; font-size: 1.15em; }
.scope { display: block; font-size: 0.8rem; font-weight: 400; color: #555; }
.headlines { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 0.8rem; margin: 1rem 0; }
.headline { border: 1px solid #ddd; border-radius: 6px; padding: 0.6rem 0.9rem; }
.headline .big { display: block; font-size: 2.2rem; font-weight: 700; line-height: 1.1; white-space: nowrap; }
.headline .what { display: block; }
.headline .detail { display: block; font-size: 0.85rem; color: #555; }
details { margin-top: 1.2rem; }
summary { cursor: pointer; }
summary h2 { display: inline; margin: 0; border: 0; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top;
         word-break: normal; overflow-wrap: normal; hyphens: manual; }
th { background: #f6f6f6; }
td.FAIL { color: #a5281b; font-weight: 700; }
.n { white-space: nowrap; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; image-rendering: pixelated; }
figcaption { font-size: 0.85rem; color: #555; }
@media (max-width: 480px) { body { padding: 0.6rem; } h1 { font-size: 1.3rem; } .headline .big { font-size: 1.8rem; } }
@media print {
  @page { margin: 1.5cm; }
  body { max-width: none; font-size: 10pt; padding: 0; }
  header { break-after: page; }
  .cards, .headlines, .verdict-card, .headline, figure, tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  details::details-content { content-visibility: visible; display: block; }
  summary { list-style: none; }
  .table-wrap { overflow: visible; }
  table { width: 100%; font-size: 6.5pt; }
  th, td { padding: 1px 3px; }
  td .n { white-space: normal; }
}
"""
