"""What a reader would see wrong in a rendered page, measured by the browser itself: each check returns a list of
one-line findings (empty when the page passes), so a failing test names the element and by how much.

The checks read layout, not markup: a table too wide for a phone, a word split across lines or an image that did
not decode shows up only once a browser has laid the page out at a given width."""

from __future__ import annotations

from typing import Any

# A short name for an element in a finding: tag, id, classes and the start of its text.
_DESCRIBE = """
function describe(el) {
  let name = el.tagName.toLowerCase();
  if (el.id) name += '#' + el.id;
  if (el.classList.length) name += '.' + Array.from(el.classList).join('.');
  const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  return text ? `${name} "${text}"` : name;
}
"""

# A scroll container holds wide content on purpose: the reader scrolls it sideways, the page stays in place.
_IN_SCROLL_CONTAINER = """
function inScrollContainer(el) {
  for (let p = el.parentElement; p && p !== document.documentElement; p = p.parentElement) {
    if (p.classList.contains('table-wrap')) return true;
    const overflow = getComputedStyle(p).overflowX;
    if (overflow === 'auto' || overflow === 'scroll') return true;
  }
  return false;
}
"""

_OVERFLOW = (
    _DESCRIBE
    + _IN_SCROLL_CONTAINER
    + """
const width = document.documentElement.clientWidth;
const found = [];
if (document.documentElement.scrollWidth > width)
  found.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in a ${width} px viewport`);
for (const el of document.body.querySelectorAll('*')) {
  const box = el.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) continue;
  if (box.right > width + 0.5 && !inScrollContainer(el))
    found.push(`${describe(el)} ends at ${Math.round(box.right)} px, beyond the ${width} px viewport`);
}
return found;
"""
)

_CUT = (
    _DESCRIBE
    + """
const found = [];
for (const el of document.body.querySelectorAll('*')) {
  if (getComputedStyle(el).overflowX === 'visible' || el.scrollWidth <= el.clientWidth + 1) continue;
  found.push(`${describe(el)} cuts what it holds: ${el.scrollWidth} px wide in ${el.clientWidth} px`);
}
return found;
"""
)

# A word is a run of characters between spaces, hyphens and slashes (where a browser may break a line); one laid
# out on two lines was split mid-way ("releas/e", "thr/eat").
_BROKEN_WORDS = (
    _DESCRIBE
    + """
const found = [];
for (const cell of document.body.querySelectorAll('th, td')) {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/[^\\s\\-\\u2010-\\u2015\\/]+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set(Array.from(range.getClientRects(), r => Math.round(r.top)));
      if (tops.size > 1) found.push(`"${match[0]}" is split over ${tops.size} lines in ${describe(cell)}`);
    }
  }
}
return found;
"""
)

_FIRST_SCREEN = (
    _DESCRIBE
    + """
const [selector] = arguments;
const el = document.querySelector(selector);
if (!el) return [`no element matches ${selector}`];
const box = el.getBoundingClientRect();
if (box.height === 0) return [`${describe(el)} is not displayed`];
if (box.top >= window.innerHeight)
  return [`${describe(el)} starts at ${Math.round(box.top)} px, below the first ${window.innerHeight} px`];
return [];
"""
)

# Every image brought into view (a lazy one loads only then) and waited for; a broken one is complete with no width.
_IMAGES = (
    _DESCRIBE
    + """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
const settled = images.map(img => {
  img.scrollIntoView();
  if (img.complete) return Promise.resolve();
  return new Promise(resolve => {
    img.addEventListener('load', resolve);
    img.addEventListener('error', resolve);
    setTimeout(resolve, 5000);
  });
});
Promise.all(settled).then(() => {
  window.scrollTo(0, 0);
  done(images.filter(img => !img.complete || img.naturalWidth === 0)
             .map(img => `${describe(img)} (alt "${img.alt}") did not load`));
});
"""
)


def overflowing_elements(driver: Any) -> list[str]:
    """Elements reaching past the viewport's right edge outside a scroll container (the page scrolls sideways)."""
    return driver.execute_script(_OVERFLOW)[:10]


def cut_elements(driver: Any) -> list[str]:
    """Elements that clip what they hold (a scroll container, overflow hidden): on paper nothing scrolls, so a
    table in a scroll container too wide for the page loses its right-hand columns. A page merely wider than the
    paper is not cut: Chromium and Firefox shrink it to the page's width when printing."""
    return driver.execute_script(_CUT)[:10]


def words_split_mid_way(driver: Any) -> list[str]:
    """Words in table cells laid out over two lines: a column too narrow for its header or figure."""
    return driver.execute_script(_BROKEN_WORDS)[:10]


def not_on_first_screen(driver: Any, selector: str) -> list[str]:
    """Whether the first element matching `selector` starts within the first viewport, the page unscrolled."""
    return driver.execute_script(_FIRST_SCREEN, selector)


def images_not_loaded(driver: Any) -> list[str]:
    driver.set_script_timeout(30)
    return driver.execute_async_script(_IMAGES)


def not_laid_out_for_phones(driver: Any) -> list[str]:
    """A phone lays a page without a device-width viewport out 980 px wide and shrinks it to the screen: the
    checks at 390 px hold on a phone only with it (the viewport here is set exactly, as on a desktop)."""
    content = driver.execute_script("return document.querySelector('meta[name=viewport]')?.content || ''")
    fits = "width=device-width" in content.replace(" ", "")
    return [] if fits else [f'<meta name="viewport"> is "{content}", not width=device-width: a phone shrinks the page']


def images_without_words(driver: Any) -> list[str]:
    """Images a screen reader (or a reader whose images are off) cannot follow: no alt text."""
    return driver.execute_script(
        "return Array.from(document.images).filter(img => !img.alt.trim()).map(img => img.src.slice(0, 40))"
    )


def console_errors(driver: Any) -> list[str]:
    """The page's console errors (CSP violations, script errors, failed loads) since the log was last read."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def printed(driver: Any, on: bool) -> None:
    """Lay the page out with its print stylesheet (on) or back on screen (off)."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print" if on else ""})


def open_every_section(driver: Any) -> None:
    """Expand every <details>: what is collapsed must fit the viewport too once a reader opens it."""
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
