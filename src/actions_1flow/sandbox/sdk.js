/*
 * actions-1flow sandbox: a stand-in for 1Flow's web SDK (https://1flow.app/js/1flow.js).
 *
 * Loaded as <script src=".../js/1flow.js" data-api-key="KEY" async>. It reads the key from its own tag, installs
 * window._1flow (and window._1flowSandbox.answerSurvey, the sandbox's survey answers, for demos) and, once the sandbox has accepted the key, sets window.glob (1Flow's readiness signal) and fires
 * on("ready") listeners. Every call is reported to the sandbox that served it (POST <sandbox>/_sandbox/sdk, even when
 * the page loaded a copy from elsewhere) so tests can see it.
 *
 * ?form= picks the shape of window._1flow (the sandbox always says which; an unknown form is refused):
 *   callable (default) - only the function form _1flow("track"|"identify", ...), as Segment's integration calls it
 *                        since 1Flow's own 2024 change to it (docs/oneflow.md weighs the evidence)
 *   methods            - a plain object with logEvent(name, props), logUser(userId, props), on(event, cb): what
 *                        1Flow's 2022 npm wrapper, javascript-1flow-sdk, calls on the global once window.glob is set
 *   both               - a function that also has those methods
 */
(function () {
  'use strict'
  var script = document.currentScript
  if (!script) {
    var tags = document.querySelectorAll('script[src*="/js/1flow.js"]')
    script = tags[tags.length - 1]
  }
  var src = new URL(script.src, window.location.href)
  var apiKey = script.getAttribute('data-api-key') || ''
  // Filled in by the sandbox as it serves the script, so a copy served from elsewhere still reports to it.
  var served = /*SERVED*/null || {}
  var form = served.form || src.searchParams.get('form') || 'callable'
  var reportUrl = served.reportUrl || src.origin + src.pathname.replace(/\/js\/1flow\.js$/, '') + '/_sandbox/sdk'
  var listeners = {}
  var ready = false
  var pending = Promise.resolve()

  // Reports go out one after another, so the sandbox records calls in the order the page made them.
  function report(method, args) {
    var body = JSON.stringify({ api_key: apiKey, method: method, args: args, form: form, page: String(window.location.href) })
    var send = function () {
      return fetch(reportUrl, { method: 'POST', mode: 'cors', keepalive: true, headers: { 'content-type': 'text/plain' }, body: body })
    }
    var sent = pending.then(send, send)
    pending = sent.catch(function () {})
    return sent
  }

  function emit(name, data) {
    ;(listeners[name] || []).forEach(function (cb) {
      try { cb(data) } catch (e) { console.error('1Flow sandbox: listener failed', e) }
    })
  }

  function logEvent(name, props) { report('logEvent', [name, props === undefined ? null : props]) }
  function logUser(userId, props) { report('logUser', [userId === undefined ? null : userId, props === undefined ? null : props]) }
  function on(name, cb) {
    report('on', [name])
    ;(listeners[name] = listeners[name] || []).push(cb)
    if (name === 'ready' && ready) cb(window.glob)
  }
  function callable(command, a, b) {
    report(String(command), [a === undefined ? null : a, b === undefined ? null : b])
  }

  var sdk
  if (form === 'methods') {
    sdk = {}
  } else {
    sdk = function (command, a, b) { callable(command, a, b) }
  }
  if (form !== 'callable') {
    sdk.logEvent = logEvent
    sdk.logUser = logUser
    sdk.on = on
  }
  sdk.sandbox = true
  window._1flow = sdk

  // The sandbox's own control, not 1Flow's API: a survey answered in this page, as 1Flow shows surveys in pages.
  // The sandbox then sends 1Flow's submitted_survey webhook for it (to its --webhook-url) and lists it.
  var surveysUrl = new URL(reportUrl).origin + '/_sandbox/surveys'
  window._1flowSandbox = {
    answerSurvey: function (userId, score, comment) {
      var body = { user_id: userId || undefined, score: score, comment: comment || undefined }
      return fetch(surveysUrl, { method: 'POST', mode: 'cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) })
        .then(function (r) { return r.json() })
    },
    surveys: function () {
      return fetch(surveysUrl, { mode: 'cors', cache: 'no-store' }).then(function (r) { return r.json() }).then(function (d) { return d.surveys })
    },
  }

  report('init', []).then(function (response) {
    if (!response.ok) {
      console.error('1Flow sandbox: the project API key was refused (HTTP ' + response.status + ')')
      return
    }
    ready = true
    window.glob = { sdk: '1flow-sandbox', form: form }
    emit('ready', window.glob)
  }, function (error) {
    console.error('1Flow sandbox: could not reach the sandbox', error)
  })
})()
