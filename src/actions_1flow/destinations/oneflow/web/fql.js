// FQL trigger evaluation in the page: Segment's `validate(ast, event)` from destination-subscriptions, run on the
// AST our server parsed and published. The browser never parses FQL text.
// Semantics (spec §2.5): a group is `and` (every child, empty is true) or `or` (some child), any other operator is
// false; `=`/`!=` compare strictly against String(expected); number and ordering operators need a number actual;
// string operators need a string actual; nested fields walk with `cur && cur[key]` (a falsy parent stops the walk).

const SEGMENT = /[^[.\]]+/g

/** Whether `event` satisfies the published trigger `ast` (an AST with `error` never matches). */
export function matches(ast, event) {
  if (ast.error || event === undefined) return false
  return group(ast, event)
}

function group(node, event) {
  if (node.operator === 'and') return node.children.every((child) => condition(child, event))
  if (node.operator === 'or') return node.children.some((child) => condition(child, event))
  return false
}

function condition(node, event) {
  switch (node.type) {
    case 'event-type': return compare(event.type, node.operator, node.value)
    case 'event': return compare(event.event, node.operator, node.value)
    case 'name': return compare(event.name, node.operator, node.value)
    case 'userId': return compare(event.userId, node.operator, node.value)
    case 'event-property': return compare(lookup(event.properties, node.name), node.operator, node.value)
    case 'event-trait': return compare(lookup(event.traits, node.name), node.operator, node.value)
    case 'event-context': return compare(lookup(event.context, node.name), node.operator, node.value)
    case 'group': return group(node, event)
    default: return false
  }
}

// destination-subscriptions' own `get`: quotes are not stripped, an empty name finds nothing.
function lookup(object, name) {
  if (!name) return undefined
  return name.match(SEGMENT).reduce((cur, key) => cur && cur[key], object)
}

function compare(actual, operator, expected) {
  const isNumber = typeof actual === 'number'
  const isString = typeof actual === 'string'
  switch (operator) {
    case '=': return actual === String(expected)
    case '!=': return actual !== String(expected)
    case 'number_equals': return isNumber && actual === Number(expected)
    case 'number_not_equals': return isNumber && actual !== Number(expected)
    case '<': return isNumber && actual < Number(expected)
    case '<=': return isNumber && actual <= Number(expected)
    case '>': return isNumber && actual > Number(expected)
    case '>=': return isNumber && actual >= Number(expected)
    case 'contains': return isString && actual.includes(String(expected))
    case 'not_contains': return isString && !actual.includes(String(expected))
    case 'starts_with': return isString && actual.startsWith(String(expected))
    case 'not_starts_with': return isString && !actual.startsWith(String(expected))
    case 'ends_with': return isString && actual.endsWith(String(expected))
    case 'not_ends_with': return isString && !actual.endsWith(String(expected))
    case 'exists': return actual !== undefined && actual !== null
    case 'not_exists': return actual === undefined || actual === null
    case 'is_true': return actual === true
    case 'is_false': return actual === false
    default: return false
  }
}
