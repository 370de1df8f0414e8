// Consent verdict and privacy.drop in the page: the semantics the server's engine applies in cloud mode, held to the
// same cases (tests/fixtures/consent-cases.json). Plain objects only, as JSON events are.
import { typeOf } from './mapping.js'

const isObject = (value) => typeOf(value) === 'object'
const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key)

/**
 * 'allow' or 'deny' for `event` under a destination's `consent` ({categories, missing}; none: every event may go).
 * The stamp is `context.consent.categoryPreferences`, which Segment's consent wrapper puts on every event; an event
 * without one (no object there) gets the `missing` policy (default deny); otherwise each category must be `true`.
 */
export function consentVerdict(consent, event) {
  if (!consent) return 'allow'
  const context = isObject(event) && isObject(event.context) ? event.context : undefined
  const stamp = context && isObject(context.consent) ? context.consent.categoryPreferences : undefined
  if (!isObject(stamp)) return consent.missing === 'allow' ? 'allow' : 'deny'
  return consent.categories.every((c) => hasOwn(stamp, c) && stamp[c] === true) ? 'allow' : 'deny'
}

/** The categories of `consent` that `event` does not grant (for the debug note of a denied event). */
export function missingCategories(consent, event) {
  const context = isObject(event) && isObject(event.context) ? event.context : {}
  const stamp = isObject(context.consent) && isObject(context.consent.categoryPreferences) ? context.consent.categoryPreferences : {}
  return consent.categories.filter((c) => !(hasOwn(stamp, c) && stamp[c] === true))
}

/**
 * A copy of `event` without the dotted `paths` (traits.email, context.ip). Only the objects along a path are copied;
 * a path that goes through a non-object or an array, or names nothing, is left alone. `event` is never changed.
 */
export function dropPaths(event, paths) {
  if (!paths || !paths.length || !isObject(event)) return event
  const copies = new Set()
  const copy = (object) => {
    const c = { ...object }
    copies.add(c)
    return c
  }
  const root = copy(event)
  for (const path of paths) {
    const keys = String(path).split('.')
    const last = keys.pop()
    let node = root
    for (const key of keys) {
      const child = hasOwn(node, key) ? node[key] : undefined
      if (!isObject(child)) {
        node = undefined
        break
      }
      node = node[key] = copies.has(child) ? child : copy(child)
    }
    if (node && hasOwn(node, last)) delete node[last]
  }
  return root
}
