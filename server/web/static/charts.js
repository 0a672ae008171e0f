/* The score pages' charts, drawn with the vendored Chart.js (static/vendor/chartjs/).
 *
 * The pages run no inline script (Content-Security-Policy), so a chart is a
 * <canvas data-chart="KIND" data-source="ID"> and its data a
 * <script type="application/json" id="ID"> block, which the browser never runs.
 * Every text (axis titles, legend) comes translated in that block; numbers are
 * written in the page's language. Each chart has its figures in a table beside
 * it too, so nothing is only in a picture. Without JavaScript the tables remain.
 * A drawn canvas gets data-drawn="1" (the browser tests wait for it).
 */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "vi";
  var BLUE = "#0b5394", RED = "#b42318", GREY = "#667085", AMBER = "#dc6803", GREEN = "#05603a";

  function percent(value) {
    return (value * 100).toLocaleString(lang, {maximumFractionDigits: 1}) + "%";
  }

  function common(data) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      locale: lang,
      plugins: {legend: {position: "bottom", labels: {boxWidth: 14}}},
    };
  }

  function rateAxis(title, min) {
    return {title: {display: true, text: title}, min: min === undefined ? 0 : min, max: 1,
            ticks: {callback: function (v) { return percent(v); }}};
  }

  function line(label, xs, ys, color, dash) {
    return {type: "line", label: label, data: xs.map(function (x, i) { return {x: x, y: ys[i]}; }),
            borderColor: color, borderWidth: 1.5, borderDash: dash || [], pointRadius: 0, fill: false};
  }

  /* Rate against number of votes, with the 95% and 99.8% limits around the subtree's rate:
     a person inside the funnel is not told apart from the average, whatever their raw rate. */
  function funnel(data) {
    var limits = data.limits, t = data.text;
    var inside = data.points.filter(function (p) { return !p.outside; });
    var outside = data.points.filter(function (p) { return p.outside; });
    var datasets = [
      {type: "scatter", label: t.inside, data: inside, backgroundColor: BLUE, pointRadius: 4},
      {type: "scatter", label: t.outside, data: outside, backgroundColor: RED, pointRadius: 5, pointStyle: "rectRot"},
      line(t.center, [limits.n[0], limits.n[limits.n.length - 1]], [data.center, data.center], GREY),
      line(t.l95, limits.n, limits.lower95, AMBER, [6, 4]),
      line(t.l95, limits.n, limits.upper95, AMBER, [6, 4]),
      line(t.l998, limits.n, limits.lower998, RED, [2, 3]),
      line(t.l998, limits.n, limits.upper998, RED, [2, 3]),
    ];
    var options = common(data);
    options.scales = {
      x: data.log ? {type: "logarithmic", title: {display: true, text: t.x},
                     ticks: {callback: function (v) {
                       var e = Math.log10(v);
                       return Math.abs(e - Math.round(e)) < 1e-9 || [2, 5].indexOf(v / Math.pow(10, Math.floor(e))) >= 0
                         ? v.toLocaleString(lang) : null;
                     }}}
                  : {type: "linear", min: 0, title: {display: true, text: t.x}},
      y: rateAxis(t.y, data.y_min),
    };
    // The upper limit lines share their legend entry with the lower ones.
    options.plugins.legend.labels.filter = function (item) { return item.datasetIndex !== 4 && item.datasetIndex !== 6; };
    options.plugins.tooltip = {
      filter: function (item) { return item.dataset.type === "scatter"; },
      callbacks: {label: function (item) {
        var p = item.raw;
        return p.label + ": " + percent(p.y) + " (n = " + p.x.toLocaleString(lang) + ")";
      }},
    };
    options.onClick = function (event, elements) {
      var point = elements.length && elements[0].element.$context.raw;
      if (point && point.code && data.href) {
        window.location.href = data.href.replace("CODE", encodeURIComponent(point.code));
      }
    };
    return {data: {datasets: datasets}, options: options};
  }

  /* A monthly (or daily) series of a rate with its interval as a band. */
  function trend(data) {
    var t = data.text;
    var options = common(data);
    options.scales = {x: {type: "category"}, y: rateAxis(t.y, data.y_min)};
    options.plugins.tooltip = {mode: "index", intersect: false, callbacks: {
      label: function (item) {
        if (item.datasetIndex !== 2) return null;
        var i = item.dataIndex;
        return t.value + ": " + percent(data.value[i]) + " [" + percent(data.low[i]) + " – " +
               percent(data.high[i]) + "], n = " + data.n[i].toLocaleString(lang);
      },
    }};
    options.plugins.legend.labels.filter = function (item) { return item.datasetIndex !== 0; };
    return {
      data: {labels: data.labels, datasets: [
        {type: "line", label: t.interval, data: data.high, borderWidth: 0, pointRadius: 0, fill: false,
         spanGaps: false},
        {type: "line", label: t.interval, data: data.low, borderWidth: 0, pointRadius: 0, fill: "-1",
         backgroundColor: "rgba(11, 83, 148, 0.18)", spanGaps: false},
        {type: "line", label: t.value, data: data.value, borderColor: BLUE, backgroundColor: BLUE,
         borderWidth: 2, pointRadius: 3, fill: false, spanGaps: false},
      ]},
      options: options,
    };
  }

  /* Counts per category (levels of the scale, reasons): horizontal bars. */
  function bars(data) {
    var options = common(data);
    options.indexAxis = "y";
    options.plugins.legend.display = false;
    options.scales = {x: {beginAtZero: true, title: {display: true, text: data.text.x}, ticks: {precision: 0}}};
    return {
      data: {labels: data.labels, datasets: [{type: "bar", label: data.text.x, data: data.values,
        backgroundColor: data.colors || BLUE, maxBarThickness: 28}]},
      options: options,
    };
  }

  /* Side by side (units): each rate as a dot on its 95% interval, a floating bar from low to high. */
  function intervals(data) {
    var t = data.text;
    var options = common(data);
    options.indexAxis = "y";
    options.scales = {x: rateAxis(t.y, data.y_min), y: {type: "category"}};
    options.plugins.tooltip = {callbacks: {label: function (item) {
      var i = item.dataIndex;
      return t.value + ": " + percent(data.value[i]) + " [" + percent(data.low[i]) + " – " +
             percent(data.high[i]) + "], n = " + data.n[i].toLocaleString(lang);
    }}};
    return {
      data: {labels: data.labels, datasets: [
        {type: "bar", label: t.interval, data: data.low.map(function (low, i) { return [low, data.high[i]]; }),
         backgroundColor: "rgba(11, 83, 148, 0.25)", barPercentage: 0.5},
        {type: "line", label: t.value, data: data.value, showLine: false, pointRadius: 5,
         pointStyle: "circle", backgroundColor: BLUE, borderColor: BLUE},
      ]},
      options: options,
    };
  }

  var KINDS = {funnel: funnel, trend: trend, bars: bars, intervals: intervals};

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    var kind = KINDS[canvas.getAttribute("data-chart")];
    if (!source || !kind || !window.Chart) return;
    var config = kind(JSON.parse(source.textContent));
    config.type = config.data.datasets[0].type;
    new window.Chart(canvas, config);
    canvas.setAttribute("data-drawn", "1");
  }

  function drawAll() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) draw(canvases[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
