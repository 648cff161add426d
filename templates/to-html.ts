/** Kita's JSX.Element may be a Promise (async components); every stepstream template renders synchronously. */
export function toHtml(element: JSX.Element): string {
  if (typeof element !== 'string') throw new TypeError('stepstream templates must render synchronously')
  return element
}
