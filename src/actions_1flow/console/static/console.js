/* actions-1flow console: one script for every page. It reads the admin JSON API with the session cookie and the
   page's CSRF token, and builds the DOM with createElement/textContent only — no innerHTML, no inline handlers —
   so text from events (names, traits, errors, 1Flow's answers) can never become markup. */
(function () {
  'use strict'

  var API = '/admin/api/v1/'
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || ''
  var page = document.body.getAttribute('data-page')

  // --- helpers ---------------------------------------------------------------------------------------------------

  function ApiError(status, body) {
    this.status = status
    this.code = (body && body.code) || 'http_' + status
    this.message = (body && (body.message || (body.problems && body.problems.join('\n')))) || 'HTTP ' + status
    this.body = body
  }

  function api(path, body) {
    var init = { method: body === undefined ? 'GET' : 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } }
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json'
      init.headers['X-CSRF-Token'] = csrf
      init.body = JSON.stringify(body)
    }
    return fetch(API + path, init).then(function (r) {
      return r.text().then(function (text) {
        var data = null
        try { data = text ? JSON.parse(text) : null } catch (e) { data = { message: text } }
        if (r.status === 401) {
          location.assign('/console/login?next=' + encodeURIComponent(location.pathname + location.search))
        }
        if (!r.ok) throw new ApiError(r.status, data)
        return data
      })
    })
  }

  /* h('td', {class: 'x', 'data-field': 'received'}, 'text', childNode, [more]) — strings become text nodes. */
  function h(tag, attrs) {
    var el = document.createElement(tag)
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] == null || attrs[k] === false) continue
        if (k === 'text') el.textContent = String(attrs[k])
        else if (k === 'on') for (var ev in attrs.on) el.addEventListener(ev, attrs.on[ev])
        else if (k === 'value') el.value = attrs[k]
        else el.setAttribute(k, attrs[k] === true ? '' : String(attrs[k]))
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i])
    return el
  }

  function append(el, child) {
    if (child == null || child === false) return
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c) }); return }
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)))
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el }
  function $(id) { return document.getElementById(id) }
  function num(n) { return n == null ? '–' : Number(n).toLocaleString('en-US') }
  function pretty(v) { return typeof v === 'string' ? v : JSON.stringify(v, null, 2) }

  /* Unix seconds or an ISO-8601 string → milliseconds (NaN when neither). */
  function millis(t) { return typeof t === 'number' ? t * 1000 : Date.parse(t) }

  function when(t) {
    if (t == null || t === '') return ''
    var ms = millis(t)
    if (isNaN(ms)) return String(t)
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
  }

  function flash(message, kind) {
    var el = $('flash')
    if (!el) return
    el.textContent = message
    el.className = 'flash ' + (kind || 'error')
    el.hidden = !message
  }

  function failed(err) {
    flash(err instanceof ApiError ? err.message + ' (' + err.code + ')' : String(err), 'error')
  }

  function debounce(fn, ms) {
    var timer = null
    return function () {
      var args = arguments
      clearTimeout(timer)
      timer = setTimeout(function () { fn.apply(null, args) }, ms)
    }
  }

  function badge(status) {
    return h('span', { class: 'badge status-' + String(status || 'unknown').replace(/[^a-z_-]/gi, ''), 'data-status': status || '', text: status || '—' })
  }

  function pre(value, cls) { return h('pre', { class: cls || 'json', text: value == null ? '' : pretty(value) }) }

  /* A table in a box that scrolls sideways when the table is wider than the page (the page itself never does). */
  function scrolling(table) { return h('div', { class: 'table-wrap' }, table) }

  /* An HTTP exchange's request or response with a JSON body shown as JSON, not as the string it was sent as. */
  function withJsonBody(part) {
    if (!part || typeof part.body !== 'string') return part
    var parsed = parseJson(part.body)
    return parsed.error ? part : Object.assign({}, part, { body: parsed.value })
  }

  function parseJson(text) {
    try {
      return { value: JSON.parse(text) }
    } catch (e) {
      return { error: e.message }
    }
  }

  function fillDestinations(select, names) {
    names.forEach(function (n) { select.appendChild(h('option', { value: n, text: n })) })
  }

  var destinationsOnce = null
  function destinationNames() {
    if (!destinationsOnce) {
      destinationsOnce = api('destinations').then(function (list) {
        return list.map(function (d) { return d.destination })
      })
    }
    return destinationsOnce
  }

  function query(params) {
    var parts = []
    for (var k in params) if (params[k] != null && params[k] !== '') parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(params[k]))
    return parts.length ? '?' + parts.join('&') : ''
  }

  var SAMPLES = {
    track: {
      type: 'track',
      event: 'Order Completed',
      userId: 'user-1234',
      anonymousId: 'anon-5678',
      messageId: 'tester-track-1',
      timestamp: '2026-01-15T10:00:00.000Z',
      properties: { order_id: 'o-42', revenue: 99.5, currency: 'EUR' },
      context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0', page: { url: 'https://shop.example/checkout' } }
    },
    identify: {
      type: 'identify',
      userId: 'user-1234',
      anonymousId: 'anon-5678',
      messageId: 'tester-identify-1',
      timestamp: '2026-01-15T10:00:00.000Z',
      traits: { email: 'ada@example.com', name: 'Ada Lovelace', plan: 'pro' }
    }
  }

  // --- Overview --------------------------------------------------------------------------------------------------

  var OUTCOMES = [
    { key: 'delivered', label: 'delivered', color: '#1a7f37' },
    { key: 'filtered', label: 'filtered', color: '#8c959f' },
    { key: 'retrying', label: 'retrying', color: '#bf8700' },
    { key: 'dead', label: 'dead-lettered', color: '#cf222e' }
  ]
  // Why a delivery was filtered (the store's `reason`, the admin API's `filtered_by` keys), in the user's words.
  var FILTER_LABELS = { no_match: 'no matching subscription', consent: 'no consent', suppressed: 'suppressed user', refused: 'refused by the action' }

  function reasonNote(reason) {
    return reason ? h('div', { class: 'hint', 'data-reason': reason, text: FILTER_LABELS[reason] || reason }) : null
  }

  function funnelStep(label, field, value, total, cls, detail) {
    var bar = h('span', { class: 'bar ' + cls })
    bar.style.width = (total ? Math.max(value ? 1.5 : 0, Math.min(100, (100 * value) / total)) : 0) + '%'
    return h('li', { class: 'step' },
      h('span', { class: 'label', text: label }),
      h('span', { class: 'track' }, bar),
      h('span', { class: 'value', 'data-field': field, text: num(value) }),
      detail || null)
  }

  function renderFunnels(data) {
    var root = clear($('funnels'))
    root.removeAttribute('aria-busy')
    if (!data.destinations.length) root.appendChild(h('p', { class: 'muted', text: 'No cloud-mode destinations.' }))
    data.destinations.forEach(function (d) {
      var by = d.filtered_by || {}
      var reasons = h('ul', { class: 'reasons' })
      Object.keys(FILTER_LABELS).forEach(function (k) {
        if (by[k]) reasons.appendChild(h('li', null, FILTER_LABELS[k] + ': ', h('span', { 'data-field': 'filtered_' + k, text: num(by[k]) })))
      })
      var r = d.received
      root.appendChild(h('section', { class: 'card funnel', 'data-destination': d.destination },
        h('h2', { text: d.destination }),
        h('ol', { class: 'steps' },
          funnelStep('received', 'received', d.received, r, 'received'),
          funnelStep('filtered', 'filtered', d.filtered, r, 'filtered', reasons.childNodes.length ? reasons : null),
          funnelStep('retrying', 'retrying', d.retrying, r, 'retrying'),
          funnelStep('dead-lettered', 'dead', d.dead, r, 'dead'),
          funnelStep('delivered', 'delivered', d.delivered, r, 'delivered')),
        h('p', { class: 'muted' }, 'pending (not yet read by the worker): ', h('span', { 'data-field': 'pending', text: num(d.pending) }))))
    })
  }

  var chart = null
  function renderChart(data, destination) {
    var box = $('chart')
    var names = destination ? [destination] : Object.keys(data.series || {})
    var buckets = {}
    names.forEach(function (n) {
      ;(data.series[n] || []).forEach(function (p) {
        var b = buckets[p.t] || (buckets[p.t] = { delivered: 0, filtered: 0, retrying: 0, dead: 0 })
        OUTCOMES.forEach(function (o) { b[o.key] += p[o.key] || 0 })
      })
    })
    var ts = Object.keys(buckets).map(Number).sort(function (a, b) { return a - b })
    var cols = [ts].concat(OUTCOMES.map(function (o) { return ts.map(function (t) { return buckets[t][o.key] }) }))
    $('step').textContent = data.step_s === 60 ? 'minute' : data.step_s % 3600 === 0 ? data.step_s / 3600 + ' h' : data.step_s / 60 + ' minutes'
    $('generated').textContent = 'as of ' + when(data.generated_at) + ' · ' + ts.length + ' buckets'
    if (chart) { chart.destroy(); chart = null }
    clear(box)
    if (typeof window.uPlot !== 'function') { box.appendChild(h('p', { class: 'error', text: 'chart library not loaded' })); return }
    var width = Math.max(320, box.clientWidth || 800)
    chart = new window.uPlot({
      width: width,
      height: 260,
      scales: { x: { time: true } },
      axes: [{}, { label: 'events' }],
      series: [{}].concat(OUTCOMES.map(function (o) {
        return { label: o.label, stroke: o.color, fill: o.color + '22', width: 1.5, points: { show: ts.length < 3 } }
      }))
    }, cols, box)
  }

  function overviewPage() {
    var box = $('chart')
    var range = box.getAttribute('data-range') || '1h'
    var select = $('chart-destination')
    var last = null
    function load() {
      return api('overview' + query({ range: range })).then(function (data) {
        last = data
        renderFunnels(data)
        if (select.options.length === 1) fillDestinations(select, data.destinations.map(function (d) { return d.destination }))
        renderChart(data, select.value)
        box.setAttribute('data-ready', String(Date.now()))
      }).catch(failed)
    }
    document.querySelectorAll('[data-range]').forEach(function (b) {
      if (b.tagName !== 'BUTTON') return
      b.addEventListener('click', function () {
        range = b.getAttribute('data-range')
        document.querySelectorAll('button[data-range]').forEach(function (o) { o.setAttribute('aria-pressed', String(o === b)) })
        history.replaceState(null, '', '?range=' + range)
        load()
      })
    })
    select.addEventListener('change', function () { if (last) renderChart(last, select.value) })
    load()
    setInterval(function () { if (!document.hidden) load() }, 15000)
  }

  // --- Event delivery --------------------------------------------------------------------------------------------

  function eventHref(item) {
    return '/console/events/' + encodeURIComponent(item.messageId) + query({ source: item.source })
  }

  function eventsPage() {
    var form = $('filters')
    var tbody = document.querySelector('#log tbody')
    var more = $('more')
    var params = new URLSearchParams(location.search)
    var next = null
    ;['destination', 'status', 'q'].forEach(function (k) { if (params.get(k)) form.elements[k].value = params.get(k) })
    destinationNames().then(function (names) {
      fillDestinations(form.elements.destination, names)
      if (params.get('destination')) form.elements.destination.value = params.get('destination')
    }).catch(failed)

    function filters() {
      return { destination: form.elements.destination.value, status: form.elements.status.value, q: form.elements.q.value.trim() }
    }
    function row(item) {
      var link = h('a', { href: eventHref(item), class: 'mono', text: item.messageId })
      var tr = h('tr', { 'data-message-id': item.messageId, class: 'clickable' },
        h('td', { class: 'nowrap', text: when(item.updated_at) }),
        h('td', { class: 'name', text: item.destination }),
        h('td', { text: item.subscription || '' }),
        h('td', { text: item.source || '' }),
        h('td', { text: item.type || '' }),
        h('td', { text: item.event || '' }),
        h('td', { class: 'mono' }, link),
        h('td', null, badge(item.status), reasonNote(item.reason)),
        h('td', { class: 'num', text: item.attempts }),
        h('td', { class: 'error-cell' }, item.error ? h('div', { class: item.status === 'filtered' ? 'muted' : null, text: item.error }) : null, item.hint ? h('div', { class: 'hint', text: item.hint }) : null))
      tr.addEventListener('click', function (e) { if (e.target.tagName !== 'A') location.assign(link.href) })
      return tr
    }
    function load(reset) {
      var f = filters()
      if (!reset && next) f.cursor = next
      return api('events' + query(Object.assign(f, { limit: 50 }))).then(function (data) {
        if (reset) clear(tbody)
        data.items.forEach(function (item) { tbody.appendChild(row(item)) })
        next = data.next
        more.hidden = !next
        $('empty').hidden = tbody.childNodes.length > 0
        document.body.setAttribute('data-loaded', 'events')
      }).catch(failed)
    }
    form.addEventListener('submit', function (e) {
      e.preventDefault()
      var f = filters()
      history.replaceState(null, '', location.pathname + query(f))
      load(true)
    })
    more.addEventListener('click', function () { load(false) })
    load(true)
  }

  function eventPage() {
    var root = $('event')
    var id = root.getAttribute('data-message-id')
    var source = root.getAttribute('data-source')
    var replaying = false

    function render(data) {
      var facts = clear($('facts'))
      ;[['messageId', data.messageId], ['source', data.source], ['received', when(data.received_at)], ['type', data.event && data.event.type], ['event', data.event && data.event.event]]
        .forEach(function (f) { if (f[1] != null) { facts.appendChild(h('dt', { text: f[0] })); facts.appendChild(h('dd', { text: f[1] })) } })
      $('event-json').textContent = pretty(data.event)

      var deliveries = clear($('deliveries'))
      if (!data.deliveries.length) deliveries.appendChild(h('p', { class: 'muted', text: 'No delivery rows (not yet read by the worker, or pruned).' }))
      data.deliveries.forEach(function (d) {
        var replay = null
        if (d.status === 'dead') {
          replay = h('button', { type: 'button', class: 'danger replay', 'data-destination': d.destination, text: 'Replay' })
          replay.addEventListener('click', function () { startReplay(data, d, replay) })
        }
        deliveries.appendChild(h('article', { class: 'delivery', 'data-destination': d.destination, 'data-subscription': d.subscription || '' },
          h('div', { class: 'row' },
            h('h3', { text: d.destination + (d.subscription ? ' · ' + d.subscription : '') }),
            badge(d.status), reasonNote(d.reason),
            h('span', { class: 'muted', text: 'attempts ' + d.attempts + (d.replays ? ' · replayed ' + d.replays + '×' + (d.replay_of ? ' (was ' + d.replay_of + ')' : '') : '') + ' · ' + when(d.updated_at) }),
            h('div', { class: 'spacer' }), replay),
          d.error ? h('p', { class: d.status === 'filtered' ? 'muted' : 'error', text: d.error }) : null,
          d.hint ? h('p', { class: 'hint', text: 'Hint: ' + d.hint }) : null,
          h('div', { class: 'split' },
            h('div', null, h('h4', { text: 'Request' }), d.request ? pre(d.request, 'json request') : h('p', { class: 'muted', text: 'none sent' })),
            h('div', null, h('h4', { text: 'Response' }), d.response ? pre(d.response, 'json response') : h('p', { class: 'muted', text: 'none' })))))
      })

      var verdicts = clear($('verdicts'))
      var table = h('table', { class: 'log' }, h('thead', null, h('tr', null, ['Destination', 'Subscription', 'Action', 'Verdict', 'Reason', 'Mapped payload'].map(function (t) { return h('th', { text: t }) }))))
      var tb = h('tbody')
      data.verdicts.forEach(function (v) {
        tb.appendChild(h('tr', { 'data-destination': v.destination, 'data-subscription': v.subscription || '' },
          h('td', { class: 'name', text: v.destination }), h('td', { text: v.subscription || '' }), h('td', { text: v.partnerAction || '' }),
          h('td', null, badge(v.status)), h('td', { text: v.reason || '' }),
          h('td', null, v.payload != null ? pre(v.payload) : '')))
      })
      table.appendChild(tb)
      verdicts.appendChild(scrolling(table))
      document.body.setAttribute('data-loaded', 'event')
    }

    function load() {
      return api('events/' + encodeURIComponent(id) + query({ source: source })).then(function (data) { render(data); return data })
    }

    function startReplay(data, delivery, button) {
      if (replaying) return
      // This event's dead letters for this destination, and no other event's.
      var body = { messageId: data.messageId, source: data.source, destination: delivery.destination, dry_run: true }
      api('replay', body).then(function (plan) {
        var box = h('div', { class: 'confirm' })
        var text = plan.count === 1
          ? 'Re-queue this dead-lettered delivery to ' + delivery.destination + '?'
          : 'This re-queues ' + plan.count + ' dead-lettered deliveries to ' + delivery.destination + ' received at the same instant (the batch this event came in). Continue?'
        var yes = h('button', { type: 'button', class: 'danger', 'data-confirm': 'replay', text: 'Replay ' + plan.count })
        var no = h('button', { type: 'button', text: 'Cancel' })
        box.appendChild(h('p', { text: text }))
        box.appendChild(yes)
        box.appendChild(no)
        button.replaceWith(box)
        no.addEventListener('click', function () { load().catch(failed) })
        yes.addEventListener('click', function () {
          replaying = true
          yes.disabled = true
          api('replay', Object.assign({}, body, { dry_run: false })).then(function (done) {
            flash('Re-queued ' + done.count + ' deliver' + (done.count === 1 ? 'y' : 'ies') + '; waiting for the worker…', 'info')
            var tries = 0
            var poll = setInterval(function () {
              load().then(function (fresh) {
                var mine = fresh.deliveries.filter(function (d) { return d.destination === delivery.destination && d.subscription === delivery.subscription })[0]
                if ((mine && mine.status !== 'retrying' && mine.status !== 'dead') || ++tries > 60) {
                  clearInterval(poll)
                  replaying = false
                  flash(mine ? 'Replay finished: ' + mine.status : 'Replay: no delivery row', mine && mine.status === 'delivered' ? 'ok' : 'error')
                }
              }).catch(function (e) { clearInterval(poll); replaying = false; failed(e) })
            }, 1000)
          }).catch(function (e) { replaying = false; failed(e) })
        })
      }).catch(failed)
    }

    load().catch(function (e) {
      if (e instanceof ApiError && e.status === 404) flash('No event with messageId ' + id + (source ? ' from source ' + source : '') + ' in the store.', 'error')
      else failed(e)
    })
  }

  // --- Event Tester ----------------------------------------------------------------------------------------------

  function resultCard(r) {
    return h('article', { class: 'result', 'data-subscription': r.subscription || '', 'data-status': r.status || '' },
      h('div', { class: 'row' },
        h('h3', { text: (r.subscription || '(no subscription)') }),
        h('span', { class: 'muted', text: (r.destination || '') + (r.partnerAction ? ' → ' + r.partnerAction : '') }),
        h('div', { class: 'spacer' }),
        badge(r.status)),
      r.reason ? h('p', { class: r.status === 'invalid' || r.status === 'error' ? 'error' : 'muted', text: r.reason }) : null,
      r.payload != null ? h('details', { open: true }, h('summary', { text: 'Mapped payload' }), pre(r.payload)) : null)
  }

  function exchange(sent) {
    var parts = []
    if (sent.outcome != null) parts.push(h('p', null, 'Outcome: ', badge(typeof sent.outcome === 'string' ? sent.outcome : (sent.outcome.status || sent.outcome.verdict || 'done'))))
    if (sent.outcome && typeof sent.outcome === 'object') parts.push(pre(sent.outcome))
    parts.push(h('h4', { text: 'Request' }), sent.request != null ? pre(withJsonBody(sent.request), 'json request') : h('p', { class: 'muted', text: 'none sent' }))
    parts.push(h('h4', { text: 'Response' }), sent.response != null ? pre(withJsonBody(sent.response), 'json response') : h('p', { class: 'muted', text: 'none' }))
    return parts
  }

  function testerPage() {
    var area = $('tester-event')
    var select = $('tester-destination')
    var results = $('tester-results')
    var parseBox = $('tester-parse')
    var seq = 0
    destinationNames().then(function (names) { fillDestinations(select, names) }).catch(failed)

    function current() {
      var parsed = parseJson(area.value)
      parseBox.hidden = !parsed.error
      parseBox.textContent = parsed.error ? 'Not valid JSON: ' + parsed.error : ''
      if (parsed.error) return null
      if (!parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
        parseBox.hidden = false
        parseBox.textContent = 'The event must be a JSON object.'
        return null
      }
      return parsed.value
    }
    var run = debounce(function () {
      var event = current()
      if (!event) return
      var mine = ++seq
      api('test-event', { event: event, destination: select.value || null, send: false }).then(function (data) {
        if (mine !== seq) return
        flash('')
        clear(results)
        if (!data.results.length) results.appendChild(h('p', { class: 'muted', text: 'No subscriptions.' }))
        data.results.forEach(function (r) { results.appendChild(resultCard(r)) })
        results.setAttribute('data-seq', String(mine))
      }).catch(function (e) {
        if (mine !== seq) return
        clear(results)
        results.appendChild(h('p', { class: 'error', text: e.message }))
      })
    }, 250)

    document.querySelectorAll('[data-sample]').forEach(function (b) {
      b.addEventListener('click', function () { area.value = pretty(SAMPLES[b.getAttribute('data-sample')]); run() })
    })
    area.addEventListener('input', run)
    select.addEventListener('change', run)
    $('tester-send').addEventListener('click', function () {
      var event = current()
      if (!event) return
      var button = this
      button.disabled = true
      api('test-event', { event: event, destination: select.value || null, send: true }).then(function (data) {
        clear(results)
        data.results.forEach(function (r) { results.appendChild(resultCard(r)) })
        var box = $('tester-sent')
        var body = clear($('tester-sent-body'))
        box.hidden = false
        if (data.sent == null) body.appendChild(h('p', { class: 'muted', text: 'Nothing sent: no subscription matched or the payload is invalid.' }))
        else append(body, exchange(data.sent))
      }).catch(failed).then(function () { button.disabled = false })
    })
    area.value = pretty(SAMPLES.track)
    run()
  }

  // --- Mappings --------------------------------------------------------------------------------------------------

  function copyText(text, button) {
    function done(ok) {
      var old = button.textContent
      button.textContent = ok ? 'Copied' : 'Select and copy below'
      setTimeout(function () { button.textContent = old }, 1500)
    }
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(function () { done(true) }, function () { done(false) })
    else done(false)
  }

  function mappingsPage() {
    var sample = $('mapping-event')
    var sampleParse = $('mapping-event-parse')
    var root = $('subscriptions')
    var editors = []
    sample.value = pretty(SAMPLES.track)

    function sampleEvent() {
      var parsed = parseJson(sample.value)
      sampleParse.hidden = !parsed.error
      sampleParse.textContent = parsed.error ? 'Not valid JSON: ' + parsed.error : ''
      return parsed.error ? null : parsed.value
    }

    function editor(destination, sub) {
      var fql = h('textarea', { class: 'code fql', rows: 2, spellcheck: 'false', 'aria-label': 'Trigger (FQL)', value: sub.subscribe })
      var mapping = h('textarea', { class: 'code', rows: 12, spellcheck: 'false', 'aria-label': 'Mapping (JSON)', value: pretty(sub.mapping || {}) })
      var trigger = h('div', { class: 'trigger-result' })
      var result = h('div', { class: 'mapping-result' })
      var yaml = h('pre', { class: 'yaml', text: '' })
      var copy = h('button', { type: 'button', class: 'copy-yaml', text: 'Copy YAML' })
      var seq = 0
      copy.addEventListener('click', function () { copyText(yaml.textContent, copy) })

      var run = debounce(function () {
        var event = sampleEvent()
        var m = parseJson(mapping.value)
        if (m.error) { clear(result).appendChild(h('p', { class: 'error', text: 'Mapping is not valid JSON: ' + m.error })); return }
        if (!event) return
        var mine = ++seq
        api('mapping-preview', { name: sub.name, destination: destination, partnerAction: sub.partnerAction, subscribe: fql.value, mapping: m.value, event: event }).then(function (data) {
          if (mine !== seq) return
          clear(trigger)
          if (data.trigger.error) trigger.appendChild(h('pre', { class: 'error fql-error', text: data.trigger.error }))
          else trigger.appendChild(h('p', null, 'Trigger ', badge(data.trigger.matched ? 'matches' : 'does not match'), ' the sample event'))
          clear(result)
          if (data.mapping.error) result.appendChild(h('pre', { class: 'error mapping-error', text: data.mapping.error }))
          if (data.mapping.payload != null) result.appendChild(h('div', null, h('h4', { text: 'Payload' }), pre(data.mapping.payload)))
          yaml.textContent = data.yaml || ''
          card.setAttribute('data-seq', String(mine))
        }).catch(function (e) {
          if (mine !== seq) return
          clear(result).appendChild(h('p', { class: 'error', text: e.message }))
        })
      }, 250)
      fql.addEventListener('input', run)
      mapping.addEventListener('input', run)

      var card = h('section', { class: 'card subscription', 'data-destination': destination, 'data-subscription': sub.name },
        h('div', { class: 'row' },
          h('h2', { text: sub.name }),
          h('span', { class: 'muted', text: destination + ' → ' + sub.partnerAction }),
          h('div', { class: 'spacer' }), copy),
        h('div', { class: 'split' },
          h('div', null, h('h4', { text: 'Trigger (FQL)' }), fql, trigger, h('h4', { text: 'Mapping' }), mapping),
          h('div', null, result, h('details', null, h('summary', { text: 'YAML' }), yaml))))
      root.appendChild(card)
      editors.push(run)
      run()
    }

    api('config').then(function (cfg) {
      var any = false
      ;(cfg.destinations || []).forEach(function (d) {
        ;(d.subscriptions || []).forEach(function (s) { any = true; editor(d.name || d.destination, s) })
      })
      if (!any) root.appendChild(h('p', { class: 'muted', text: 'No subscriptions in the configuration.' }))
    }).catch(failed)

    document.querySelectorAll('[data-sample]').forEach(function (b) {
      b.addEventListener('click', function () { sample.value = pretty(SAMPLES[b.getAttribute('data-sample')]); editors.forEach(function (r) { r() }) })
    })
    sample.addEventListener('input', function () { editors.forEach(function (r) { r() }) })  // each editor debounces
  }

  // --- Destinations ----------------------------------------------------------------------------------------------

  function keyValues(obj) {
    var dl = h('dl', { class: 'facts settings' })
    Object.keys(obj || {}).forEach(function (k) {
      dl.appendChild(h('dt', { text: k }))
      dl.appendChild(h('dd', { class: 'mono', text: typeof obj[k] === 'object' ? JSON.stringify(obj[k]) : String(obj[k]) }))
    })
    return dl
  }

  var PROSE = { message: true, subscription: true, origin: true }  // report fields that wrap; the rest stay on one line

  function reportsTable(items) {
    if (!items || !items.length) return h('p', { class: 'muted', text: 'No reports.' })
    var cols = Object.keys(items[0])
    return scrolling(h('table', { class: 'log' },
      h('thead', null, h('tr', null, cols.map(function (c) { return h('th', { text: c }) }))),
      h('tbody', null, items.map(function (it) {
        return h('tr', null, cols.map(function (c) {
          var v = it[c]
          if (c.slice(-3) === '_at') v = when(v)
          return h('td', { class: PROSE[c] ? 'prose' : 'name', text: v == null ? '' : typeof v === 'object' ? JSON.stringify(v) : v })
        }))
      }))))
  }

  function destinationsPage() {
    function load() {
      api('destinations').then(function (list) {
        var root = clear($('destinations'))
        list.forEach(function (d) {
          root.appendChild(h('section', { class: 'card', 'data-destination': d.destination },
            h('div', { class: 'row' },
              h('h2', { text: d.destination }),
              h('span', { class: 'muted', text: d.mode + ' mode' }),
              h('div', { class: 'spacer' }),
              badge(d.state)),
            d.reason || d.until ? h('p', { class: 'hint' }, d.reason || '', d.until ? ' (until ' + when(d.until) + ')' : '') : null,
            h('h4', { text: 'Settings' }), keyValues(d.settings),
            d.mode === 'device' || (d.device_reports && d.device_reports.length) ? [h('h4', { text: 'Device-mode reports' }), reportsTable(d.device_reports)] : null))
        })
        document.body.setAttribute('data-loaded', 'destinations')
      }).catch(failed)
      api('device-events?limit=20').then(function (data) { clear($('device-events')).appendChild(reportsTable(data.items)) }).catch(failed)
    }
    $('reload').addEventListener('click', function () {
      var out = clear($('reload-result'))
      api('reload', {}).then(function () {
        out.appendChild(h('p', { class: 'flash ok', text: 'Configuration reloaded.' }))
        load()
      }).catch(function (e) {
        var problems = (e.body && e.body.problems) || [e.message]
        out.appendChild(h('div', { class: 'flash error' }, h('p', { text: 'Refused; the running configuration stays:' }), h('pre', { text: problems.join('\n') })))
      })
    })
    load()
  }

  // --- Replay ----------------------------------------------------------------------------------------------------

  function replayPage() {
    var form = $('replay-form')
    var plan = null
    var KINDS = { dead: 'dead-lettered', filtered: 'filtered', delivered: 'delivered', all: 'dead-lettered, filtered or delivered' }
    destinationNames().then(function (names) { fillDestinations(form.elements.destination, names) }).catch(failed)

    function body(dry) {
      return {
        since: form.elements.since.value.trim(),
        until: form.elements.until.value.trim() || null,
        destination: form.elements.destination.value || null,
        status: form.elements.status.value,
        dry_run: dry
      }
    }
    form.addEventListener('submit', function (e) {
      e.preventDefault()
      flash('')
      var b = body(true)
      api('replay', b).then(function (data) {
        plan = b
        var already = 0
        Object.keys(data.already_replayed || {}).forEach(function (k) { already += data.already_replayed[k] })
        $('replay-plan').hidden = false
        $('replay-count').textContent = (data.count
          ? data.count + ' ' + KINDS[b.status] + ' deliver' + (data.count === 1 ? 'y' : 'ies') + ' would be sent again' + (b.destination ? ' to ' + b.destination : '') + '.'
          : 'Nothing to replay in that range.') +
          (already ? ' ' + already + ' already replayed with this configuration are left alone.' : '')
        $('replay-count').setAttribute('data-count', String(data.count))
        $('replay-count').setAttribute('data-already', String(already))
        var confirm = $('replay-confirm')
        confirm.hidden = !data.count
        confirm.disabled = false
        confirm.textContent = 'Replay ' + data.count
      }).catch(failed)
    })
    $('replay-confirm').addEventListener('click', function () {
      if (!plan) return
      var button = this
      button.disabled = true
      api('replay', Object.assign({}, plan, { dry_run: false })).then(function (done) {
        var bar = $('replay-bar')
        var status = $('replay-status')
        $('replay-progress').hidden = false
        bar.max = Math.max(1, done.count)
        status.textContent = 'Re-queued ' + done.count + '.'
        var ticks = 0
        var poll = setInterval(function () {
          // Still on their way: re-queued deliveries marked with this configuration and not settled yet.
          api('replay/progress' + query({ destination: plan.destination })).then(function (p) {
            var settled = Math.max(0, done.count - p.replaying)
            bar.value = Math.min(done.count, settled)
            status.textContent = 'Replayed ' + settled + ' of ' + done.count + (p.replaying ? '; ' + p.replaying + ' on their way.' : '.')
            if (!p.replaying || ++ticks > 300) {
              clearInterval(poll)
              status.setAttribute('data-done', 'true')
              $('replay-count').textContent = 'Replayed ' + done.count + '; count again for a new range.'
              plan = null
            }
          }).catch(function (e) { clearInterval(poll); failed(e) })
        }, 1000)
      }).catch(function (e) { button.disabled = false; failed(e) })
    })
  }

  var PAGES = { overview: overviewPage, events: eventsPage, event: eventPage, tester: testerPage, mappings: mappingsPage, destinations: destinationsPage, replay: replayPage }
  if (PAGES[page]) PAGES[page]()
})()
