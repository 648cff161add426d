/**
 * Runs in the page (`page.evaluate(lowContrast, selectors)`): every visible element matched by `selectors` that holds
 * text, whose colour against the first opaque background behind it is under WCAG AA's 4.5:1, as `tag.class: ratio`.
 * Self-contained, since Playwright sends the function's source to the browser.
 */
export function lowContrast(selectors: string): string[] {
  const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number)
  const lum = ([r, g, b]: number[]) =>
    [r!, g!, b!]
      .map((v) => v / 255)
      .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
      .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i]!, 0)
  const background = (el: Element | null): number[] => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor)
      if (c.length === 3 || (c.length === 4 && c[3]! > 0)) return c.slice(0, 3)
    }
    return [255, 255, 255]
  }
  const failures: string[] = []
  for (const el of document.querySelectorAll(selectors)) {
    if (!(el as HTMLElement).offsetParent || !el.textContent?.trim()) continue
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))]
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
    if (ratio < 4.5) failures.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)}`)
  }
  return failures
}
