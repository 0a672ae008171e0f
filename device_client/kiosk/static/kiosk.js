/* The counter kiosk page: one citizen interaction at a time.
 *
 * The flow (screen, idempotency key, rating, reasons, deadlines) lives in
 * sessionStorage, so a reload, a language switch or a restart of the local
 * service resumes it where it was. A vote is POSTed with the interaction's key
 * until the tablet answers; the tablet records at most one vote per key, and
 * "thank you" shows only after that answer (the vote is committed by then).
 */
(function () {
  "use strict";
  var $ = function (sel) { return document.querySelector(sel); };
  var $$ = function (sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); };
  var messages = JSON.parse($("#messages").textContent);
  var settings = JSON.parse($("#kiosk-settings").textContent);
  var lang = document.body.dataset.lang;
  var FLOW = "hailong.flow";
  var RATING_TIMEOUT_MS = 60000, LANG_IDLE_MS = 60000;
  var state = null, flow = load(), sending = false, shownAt = 0, idleSince = Date.now();
  var pin = "";
  window.hailongTimings = [];  // tap -> committed -> rendered, for bench/kiosk.py

  function load() { try { return JSON.parse(sessionStorage.getItem(FLOW)); } catch (e) { return null; } }
  function save() {
    if (flow) sessionStorage.setItem(FLOW, JSON.stringify(flow)); else sessionStorage.removeItem(FLOW);
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16); crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, name) { return values[name]; });
  }

  function api(method, path, body) {
    var options = { method: method, cache: "no-store", headers: {} };
    // The tablet takes a POST only as JSON from this page (a form from another page could not send it).
    if (method !== "GET") { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body || {}); }
    return fetch(path, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  function show(name) {
    var current = document.body.dataset.screen;
    if (current === name) return;
    $$(".screen").forEach(function (section) { section.classList.toggle("active", section.id === "screen-" + name); });
    document.body.dataset.screen = name;
    shownAt = Date.now();
  }

  function render() {
    if (!state) return show("loading");
    if (flow) return show(flow.screen);
    show(state.open ? "waiting" : "closed");
  }

  function applyState(next) {
    state = next;
    settings = state.kiosk;
    var indicator = $("#indicator");
    indicator.classList.toggle("offline", !state.online);
    $("#queue").textContent = state.queue;
    if (state.staff) {
      $("#staff-name").textContent = state.staff.full_name;
      $("#staff-title").textContent = state.staff.title;
      $("#signed-in-name").textContent = format(messages.signed_in_as, { name: state.staff.full_name });
      var img = $("#staff-photo"), initials = $("#staff-initials");
      img.hidden = !state.staff.photo;
      initials.hidden = !!state.staff.photo;
      if (state.staff.photo) {
        var src = "/photo/" + encodeURIComponent(state.staff.code) + "?v=" + state.staff.photo.slice(0, 16);
        if (img.getAttribute("src") !== src) img.setAttribute("src", src);
        img.alt = state.staff.full_name;
      } else {
        initials.textContent = state.staff.full_name.split(" ").slice(-1)[0].charAt(0);
      }
    }
    if (!flow && state.config_version && state.config_version !== document.body.dataset.configVersion) {
      location.reload();  // a new roster or scale: render it (only between citizens)
      return;
    }
    render();
  }

  function poll() {
    return api("GET", "/api/state").then(function (r) { if (r.ok) applyState(r.data); })
      .catch(function () { /* the local service is restarting: keep going, retry next tick */ });
  }

  // --- the citizen's flow -----------------------------------------------------

  function start() {
    // No waiting between citizens: a vote soon after the last one is recorded with a mark, never refused.
    if (flow || !state || !state.open) return;
    flow = { screen: "rating", key: newKey(), deadline: Date.now() + RATING_TIMEOUT_MS };
    save(); render();
  }

  function rate(button) {
    // The guard stops the second tap of a double tap on "start" from rating.
    if (!flow || flow.screen !== "rating" || Date.now() - shownAt < settings.tap_guard_ms) return;
    flow.rating = parseInt(button.dataset.value, 10);
    flow.tappedAt = performance.now();
    if (button.dataset.negative === "true") {
      flow.screen = "reasons";
      flow.reasons = [];
      flow.deadline = Date.now() + settings.reasons_timeout_seconds * 1000;
      $$(".chip").forEach(function (chip) { chip.setAttribute("aria-pressed", "false"); });
      save(); render();
    } else {
      flow.reasons = [];
      submit();
    }
  }

  function toggleReason(chip) {
    if (!flow || flow.screen !== "reasons") return;
    var code = chip.dataset.code, at = flow.reasons.indexOf(code);
    if (at >= 0) flow.reasons.splice(at, 1); else flow.reasons.push(code);
    chip.setAttribute("aria-pressed", at >= 0 ? "false" : "true");
    flow.deadline = Date.now() + settings.reasons_timeout_seconds * 1000;  // still choosing
    save();
  }

  function submit(withoutReasons) {
    if (!flow || flow.rating === undefined) return;
    if (withoutReasons) flow.reasons = [];
    if (flow.screen !== "saving") { flow.screen = "saving"; save(); render(); }
    if (sending) return;
    sending = true;
    var tappedAt = flow.tappedAt || performance.now();
    api("POST", "/api/vote", { key: flow.key, rating: flow.rating, reasons: flow.reasons.slice().sort() })
      .then(function (r) {
        sending = false;
        if (r.ok) return thank(tappedAt, performance.now());
        if (r.status >= 500) return;  // retried by the tick
        flow = null; save(); poll();  // closed or invalid: nothing was recorded
      })
      .catch(function () { sending = false; /* service down: the tick retries with the same key */ });
  }

  function thank(tappedAt, committedAt) {
    flow.screen = "thanks";
    flow.until = Date.now() + settings.thanks_seconds * 1000;
    save(); render();
    // rAF runs just before the frame is painted; a task queued from it runs after.
    requestAnimationFrame(function () {
      setTimeout(function () {
        window.hailongTimings.push({ tap: tappedAt, committed: committedAt, rendered: performance.now() });
      }, 0);
    });
    poll();
  }

  function finish() {
    flow = null; save();
    idleSince = Date.now();
    if (lang !== "vi") { location.replace("/?lang=vi"); return; }  // every citizen starts in Vietnamese
    render();
  }

  function tick() {
    var now = Date.now();
    if (flow) {
      if (flow.screen === "rating" && now > flow.deadline) finish();
      else if (flow.screen === "reasons") {
        var left = Math.max(0, flow.deadline - now) / (settings.reasons_timeout_seconds * 1000);
        $("#countdown-bar").style.width = (left * 100).toFixed(1) + "%";
        if (now > flow.deadline) submit();  // the citizen walked away: record what we have
      } else if (flow.screen === "saving" && !sending) submit();
      else if (flow.screen === "thanks" && now > flow.until) finish();
    } else if (lang !== "vi" && now - idleSince > LANG_IDLE_MS) {
      location.replace("/?lang=vi");
    }
  }

  // --- staff sign-in ------------------------------------------------------------

  // Anyone at the counter can open the panel, so signing out takes the signed-in person's PIN too.
  function openPanel() {
    var open = state && state.open;
    $("#signed-in").hidden = !open;
    $("#code-field").hidden = open;
    $("#sign-out").hidden = !open;
    $("#sign-in-message").textContent = "";
    pin = ""; $("#pin-dots").textContent = "";
    $("#staff-panel").hidden = false;
    if (!open) $("#staff-code").focus();
    if (open) api("POST", "/api/staff/touch").catch(function () {});
  }
  function closePanel() { $("#staff-panel").hidden = true; pin = ""; $("#pin-dots").textContent = ""; }

  function keypad(key) {
    if (key === "clear") pin = pin.slice(0, -1);
    else if (pin.length < 8) pin += key;
    $("#pin-dots").textContent = "•".repeat(pin.length);
  }

  // A wrong PIN and an unknown code get the same answer from the tablet, and so the same words here.
  function refused(r, wrong) {
    var error = (r.data && r.data.error) || {}, text = wrong;
    if (error.code === "locked" && error.locked_until) {
      var time = new Date(error.locked_until * 1000);
      text = format(messages.locked, { time: time.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }) });
    } else if (error.attempts_left) {
      text += " " + format(messages.attempts_left, { n: error.attempts_left });
    }
    $("#sign-in-message").textContent = text;
  }

  function submitPanel(event) {
    event.preventDefault();
    var entered = pin;
    pin = ""; $("#pin-dots").textContent = "";
    if (state && state.open) return signOut(entered);
    var body = { staff: $("#staff-code").value.trim().toUpperCase(), pin: entered };
    api("POST", "/api/staff/sign-in", body).then(function (r) {
      if (r.ok) { closePanel(); $("#staff-code").value = ""; return poll(); }
      refused(r, messages.wrong_pin);
    }).catch(function () {});
  }

  function signOut(entered) {
    api("POST", "/api/staff/sign-out", { pin: entered }).then(function (r) {
      if (!r.ok) return refused(r, messages.wrong_own_pin);
      closePanel(); flow = null; save(); return poll();
    }).catch(function () {});
  }

  // --- wiring ---------------------------------------------------------------------

  $("#start").addEventListener("click", start);
  $("#rating-back").addEventListener("click", function () { if (flow && flow.screen === "rating") finish(); });
  $$(".level").forEach(function (button) { button.addEventListener("click", function () { rate(button); }); });
  $$(".chip").forEach(function (chip) { chip.addEventListener("click", function () { toggleReason(chip); }); });
  $("#reasons-send").addEventListener("click", function () { if (flow && flow.screen === "reasons") submit(); });
  $("#reasons-skip").addEventListener("click", function () { if (flow && flow.screen === "reasons") submit(true); });
  $("#staff-button").addEventListener("click", openPanel);
  $("#staff-close").addEventListener("click", closePanel);
  $("#sign-in-form").addEventListener("submit", submitPanel);
  $$(".key[data-key]").forEach(function (key) { key.addEventListener("click", function () { keypad(key.dataset.key); }); });
  document.addEventListener("pointerdown", function () { idleSince = Date.now(); });

  if (flow && flow.screen === "reasons") {
    $$(".chip").forEach(function (chip) {
      chip.setAttribute("aria-pressed", flow.reasons.indexOf(chip.dataset.code) >= 0 ? "true" : "false");
    });
  }
  poll();
  setInterval(poll, 2000);
  setInterval(tick, 200);
})();
