// The reader's book: fixes to the theme found by tests/test_browser.py.
// Jupyter Book adds every .css and .js file of _static/ to each page.
document.addEventListener("DOMContentLoaded", () => {
  // Sidebar toggles. pydata-sphinx-theme 0.17 renders its own primary and
  // secondary toggles in the (hidden) navbar, and both it and sphinx-book-theme
  // attach their click handlers to the first `.primary-toggle` /
  // `.secondary-toggle` of the page: the hidden ones. The visible buttons of the
  // article header do nothing, so on a phone the navigation cannot be opened
  // (pydata-sphinx-theme issue 2451). Forward their clicks to the wired buttons.
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const wired = document.querySelector(selector);
    document.querySelectorAll(selector).forEach((button) => {
      if (button === wired) return;
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        wired.click();
      });
    });
  }

  // Landmarks. The primary sidebar is a plain <div>: its first items (the book's
  // title, linking home, and the search button) sit outside every landmark, so a
  // screen reader's landmark list skips them (axe: region, moderate). The sidebar
  // is the book's navigation (the table of contents inside it is the "Main" nav).
  const sidebar = document.querySelector("#pst-primary-sidebar");
  if (sidebar && !sidebar.hasAttribute("role")) {
    sidebar.setAttribute("role", "navigation");
    sidebar.setAttribute("aria-label", "Book");
  }

  // References page. docutils 0.21 writes the bibliography as
  // <div role="list"> of <div role="doc-biblioentry">: a deprecated role, and a
  // list without list items for assistive technology (axe: aria-required-children,
  // critical). DPUB-ARIA's replacement for doc-biblioentry is listitem.
  document
    .querySelectorAll('.citation-list[role="list"] > [role="doc-biblioentry"]')
    .forEach((entry) => entry.setAttribute("role", "listitem"));
});
