// Mapping resolution in the page: Segment's mapping-kit `transform(mapping, event)` (actions-core) at run time.
// The server validates every mapping before it publishes it, so validation is not repeated here; everything that
// can only fail at run time throws with Segment's message. Values follow JS semantics on purpose: this is the
// native home of those semantics (MISSING is `undefined`, falsy tests are JS truthiness, String() and JSON are JS's).
// `@liquid` never reaches the browser (the server refuses it for device mode); it throws instead of leaking the
// template text the way Segment's browser build does.

const ROOT_DIRECTIVE_KEY = '__segment_internal_directive'
const MAX_PATTERN_LENGTH = 10
const MAX_REPLACEMENT_LENGTH = 10

/** Lower-case type tag, as Segment's realTypeOf: object, array, null, undefined, string, number, boolean. */
export const typeOf = (value) => Object.prototype.toString.call(value).slice(8, -1).toLowerCase()
const isObject = (value) => typeOf(value) === 'object'

/** Resolve `mapping` against `data`; MISSING keys are removed from objects (kept as holes in arrays). */
export function transform(mapping, data = {}) {
  const dataType = typeOf(data)
  if (dataType !== 'object') throw new Error(`data must be an object, got ${dataType}`)
  return removeUndefined(resolve(expandRootDirective(mapping), data))
}

// A top-level `__segment_internal_directive: {"@x": options}` wraps the customer's other keys as `options.mapping`.
function expandRootDirective(mapping) {
  if (!Object.keys(mapping).includes(ROOT_DIRECTIVE_KEY)) return { ...mapping }
  const customerMappings = {}
  for (const key in mapping) if (key !== ROOT_DIRECTIVE_KEY) customerMappings[key] = mapping[key]
  const root = mapping[ROOT_DIRECTIVE_KEY]
  const names = Object.keys(root)
  if (names.length > 1) throw new Error('The root mapping must only have a single directive object')
  const options = root[names[0]]
  if (!options || typeof options !== 'object') throw new Error('The root directive must be an object')
  options.mapping = customerMappings
  return root
}

// Segment's get(): `.`, `["…"]`, `['…']` and `[0]` separate keys; quotes are dropped; a falsy parent stops
// the walk.
let KEY_SEPARATOR
try {
  KEY_SEPARATOR = new RegExp(`\\[(?="|'|\\d)|\\.|(?<="|'|\\d)]+`, 'g')
} catch (e) {
  KEY_SEPARATOR = /\[|\.|]+/g // engines without look-behind, as in Segment's build
}

function get(object, path) {
  if (path === '' || path === '.') return object
  if (path == null) return undefined
  return path
    .split(KEY_SEPARATOR)
    .filter(Boolean)
    .map((key) => key.replace(/'|"/g, ''))
    .reduce((cur, key) => cur && cur[key], object)
}

// A directive is a plain object with an `@` key and nothing else but `_metadata`; the first `@` key names it.
function directiveName(value) {
  if (!isObject(value)) return undefined
  const keys = Object.keys(value)
  if (!keys.every((key) => key.startsWith('@') || key === '_metadata')) return undefined
  return keys.find((key) => key.startsWith('@'))
}

function resolve(mapping, payload) {
  if (Array.isArray(mapping)) return mapping.map((value) => resolve(value, payload))
  if (!isObject(mapping)) return mapping
  const name = directiveName(mapping)
  if (name) return runDirective(name, mapping[name], payload)
  const resolved = {}
  for (const key of Object.keys(mapping)) resolved[key] = resolve(mapping[key], payload)
  return resolved
}

function runDirective(name, options, payload) {
  const directive = DIRECTIVES[name]
  if (typeof directive !== 'function') throw new Error(`${name} is not a valid directive, got ${typeOf(directive)}`)
  return directive(options, payload)
}

function resolveString(name, value, payload) {
  const text = resolve(value, payload)
  if (typeof text !== 'string') throw new Error(`${name}: expected string, got ${typeOf(text)}`)
  return text
}

// {{{x}}} first, then {{x}} over the result; x is trimmed and looked up without stripping `$.`; null/MISSING → "".
function render(template, data = {}) {
  const placeholder = (braces) => (match) => get(data, match.slice(braces, -braces).trim()) ?? ''
  return template.replace(/\{\{\{([^}]+)\}\}\}/g, placeholder(3)).replace(/\{\{([^}]+)\}\}/g, placeholder(2))
}

// The pattern is literal text, not a regex; JS replacement specials ($&, $$, …) still apply.
function replaceLiteral(value, pattern, replacement, flags) {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new Error(`@replace requires a "pattern" less than ${MAX_PATTERN_LENGTH} characters`)
  }
  if (replacement.length > MAX_REPLACEMENT_LENGTH) {
    throw new Error(`@replace requires a "replacement" less than ${MAX_REPLACEMENT_LENGTH} characters`)
  }
  const escaped = pattern.replace(/[-[\]{}()*+?.,\\^$|#\s]/g, '\\$&')
  return value.replace(new RegExp(escaped, flags), replacement)
}

function flatten(value, prefix, separator, omitArrays) {
  if (!isObject(value) && (omitArrays || !Array.isArray(value))) return { [prefix]: value }
  return Object.entries(value).reduce((flat, [key, item]) => {
    const path = prefix ? prefix + separator + key : key
    return { ...flat, ...flatten(item, path, separator, omitArrays) } // spread, not assign: `__proto__` stays a key
  }, {})
}

function cleanNulls(value) {
  if (!isObject(value)) return value
  const cleaned = Object.assign({}, value)
  for (const key of Object.keys(value)) {
    if (value[key] === null) cleaned[key] = undefined
    else if (isObject(value[key])) cleaned[key] = cleanNulls(value[key])
  }
  return cleaned
}

function removeUndefined(value) {
  if (Array.isArray(value)) return value.map(removeUndefined)
  if (!isObject(value)) return value
  const cleaned = Object.assign({}, value)
  for (const key of Object.keys(cleaned)) {
    if (cleaned[key] === undefined) delete cleaned[key]
    else cleaned[key] = removeUndefined(cleaned[key])
  }
  return cleaned
}

const arrify = (value) => (value == null ? [] : Array.isArray(value) ? value : [value])

const DIRECTIVES = {
  '@path': (path, payload) => get(payload, resolveString('@path', path, payload).replace('$.', '')),

  '@template': (template, payload) => render(resolveString('@template', template, payload), payload),

  '@literal': (value, payload) => resolve(value, payload),

  '@if'(options, payload) {
    if (!isObject(options)) throw new Error('@if requires an object with an "exists" key')
    if (!options.exists && !options.blank) throw new Error('@if requires an "exists" key or a "blank" key')
    let holds = false
    if (options.exists !== undefined) {
      holds = resolve(options.exists, payload) != null
    } else if (options.blank !== undefined) {
      const value = resolve(options.blank, payload)
      holds = value != null && value != '' // loose: 0, false, [] and [""] are blank too
    }
    if (holds && options.then !== undefined) return resolve(options.then, payload)
    if (!holds && options.else) return resolve(options.else, payload)
    return undefined
  },

  '@case'(options, payload) {
    if (!isObject(options)) throw new Error('@case requires an object with a "operator" key')
    if (!options.operator) throw new Error('@case requires a "operator" key')
    if (!options.value) return undefined
    const value = resolve(options.value, payload)
    if (typeof value !== 'string') return value
    if (options.operator === 'lower') return value.toLowerCase()
    if (options.operator === 'upper') return value.toUpperCase()
    throw new Error('operator key should have a value of "lower" or "upper"')
  },

  '@replace'(options, payload) {
    if (!isObject(options)) throw new Error('@replace requires an object with a "pattern" key')
    const { pattern, pattern2 } = options
    if (!pattern) throw new Error('@replace requires a "pattern" key')
    const replacement = options.replacement ?? ''
    const replacement2 = pattern2 && options.replacement2 == null ? '' : options.replacement2
    const ignorecase = options.ignorecase ?? false
    const global = options.global ?? true
    if (!options.value) return undefined
    let value = resolve(options.value, payload)
    if (typeof value === 'boolean' || typeof value === 'number') value = String(value)
    if (
      typeof value !== 'string' ||
      typeof pattern !== 'string' ||
      typeof replacement !== 'string' ||
      typeof ignorecase !== 'boolean' ||
      typeof global !== 'boolean'
    ) {
      return ''
    }
    const flags = (global ? 'g' : '') + (ignorecase ? 'i' : '')
    value = replaceLiteral(value, pattern, replacement, flags)
    if (pattern2 && typeof pattern2 === 'string' && typeof replacement2 === 'string') {
      value = replaceLiteral(value, pattern2, replacement2, flags)
    }
    return value
  },

  '@arrayPath'(options, payload) {
    if (!Array.isArray(options)) throw new Error(`@arrayPath expected array, got ${typeOf(options)}`)
    const [path, shape] = options
    const root = typeof path === 'string' ? get(payload, path.replace('$.', '')) : resolve(path, payload)
    if ((isObject(root) || Array.isArray(root)) && isObject(shape) && Object.keys(shape).length > 0) {
      return arrify(root).map((item) => resolve(shape, item))
    }
    return root
  },

  '@flatten'(options, payload) {
    if (!isObject(options)) throw new Error('@flatten requires an object with a "separator" key')
    if (!options.separator) throw new Error('@flatten requires a "separator" key')
    const separator = resolve(options.separator, payload)
    if (typeof separator !== 'string') throw new Error('@flatten requires a string separator')
    return flatten(resolve(options.value, payload), '', separator, Boolean(options.omitArrays))
  },

  '@json'(options, payload) {
    if (!isObject(options)) throw new Error('@json requires an object with a "value" key')
    if (!options.mode) throw new Error('@json requires a "mode" key')
    if (!options.value) throw new Error('@json requires a "value" key')
    const value = resolve(options.value, payload)
    if (options.mode === 'encode') return JSON.stringify(value)
    if (options.mode !== 'decode') return undefined
    if (typeof value !== 'string') return value
    try {
      return JSON.parse(value)
    } catch (e) {
      return value
    }
  },

  '@merge'(options, payload) {
    if (!isObject(options)) throw new Error('@merge requires an object with an "objects" key and a "direction" key')
    if (!options.direction) throw new Error('@merge requires a "direction" key')
    const direction = resolve(options.direction, payload)
    if (!options.objects) throw new Error('@merge requires a "objects" key')
    if (!Array.isArray(options.objects)) throw new Error(`@merge: expected opts.array, got ${typeof options.objects}`)
    const objects = options.objects.map((value) => resolve(value, payload))
    if (direction === 'left') objects.reverse()
    return Object.assign({}, ...objects)
  },

  '@transform'(options, payload) {
    if (!isObject(options)) throw new Error('@transform requires an object with an "apply" key and a "mapping" key')
    if (!options.mapping) throw new Error('@transform requires a "mapping" key')
    if (!options.apply) throw new Error('@transform requires a "apply" key')
    if (!isObject(options.apply)) throw new Error('@transform "apply" key should be an object')
    return resolve(options.mapping, transform(options.apply, payload))
  },

  '@excludeWhenNull'(value, payload) {
    const resolved = resolve(value, payload)
    return resolved === null ? undefined : cleanNulls(resolved)
  },

  '@liquid'() {
    throw new Error('@liquid is not supported in device mode')
  },
}
