// The worklist and the cases of the HTML report (sopengine/reporters/html.py), from the gzipped JSON in
// #report-data. Everything from the data goes into the page as text (textContent), never as markup.
(function () {
  "use strict";
  var PAGE = 50;

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === "") continue;
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function caseLink(id, url) {
    if (!url) return el("span", {}, id);
    var a = el("a", {href: url, target: "_blank", rel: "noopener noreferrer"}, id);
    a.addEventListener("click", function (e) { e.stopPropagation(); });  // following the link opens no row
    return a;
  }

  function shownTime(t) { return t ? t.replace("T", " ") : ""; }

  function shownValue(v) { return typeof v === "string" ? v : JSON.stringify(v); }

  async function unpack(text) {
    var bytes = Uint8Array.from(atob(text.trim()), function (c) { return c.charCodeAt(0); });
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  // -- CSV, as Python's csv module writes it (minimal quoting, \n line ends) ----------------------------
  function csv(header, rows) {
    function cell(v) {
      var s = v === null || v === undefined ? "" : String(v);
      return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    }
    return [header].concat(rows).map(function (r) { return r.map(cell).join(",") + "\n"; }).join("");
  }

  function offerCsv(link, build) {
    link.addEventListener("click", function () {  // built when asked for: the page opens without it
      if (link.href.indexOf("blob:") === 0) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([build()], {type: "text/csv;charset=utf-8"}));
    });
  }

  // -- a table that searches, sorts and pages its rows; columns: {label, text(row), sort(row)?, cell(row)?} --
  function pagedTable(host, search, opts) {
    var state = {query: "", sort: opts.sort === undefined ? null : opts.sort, desc: !!opts.desc, page: 0};
    var haystacks = new Map();

    function matches(row, words) {
      var hay = haystacks.get(row);
      if (hay === undefined) { hay = opts.haystack(row).toLowerCase(); haystacks.set(row, hay); }
      return words.every(function (w) { return hay.indexOf(w) >= 0; });
    }

    function ordered() {
      var words = state.query.toLowerCase().split(/\s+/).filter(Boolean);
      var rows = words.length ? opts.rows.filter(function (r) { return matches(r, words); }) : opts.rows.slice();
      var col = state.sort === null ? null : opts.columns[state.sort];
      if (col) {
        var key = col.sort || col.text, sign = state.desc ? -1 : 1;
        rows.sort(function (a, b) {  // stable: ties keep the data's order; no value sorts last either way
          var x = key(a), y = key(b);
          if (x === y) return 0;
          if (x === null || x === "") return 1;
          if (y === null || y === "") return -1;
          return (x < y ? -1 : 1) * sign;
        });
      }
      return rows;
    }

    function head() {
      var tr = el("tr");
      opts.columns.forEach(function (col, i) {
        var th = el("th", {"class": [col.cls, "sortable"].filter(Boolean).join(" "), scope: "col",
                           "aria-sort": state.sort === i ? (state.desc ? "descending" : "ascending") : null}, col.label);
        th.addEventListener("click", function () {
          state.desc = state.sort === i ? !state.desc : !!col.desc;
          state.sort = i;
          state.page = 0;
          render();
        });
        tr.appendChild(th);
      });
      return el("thead", {}, tr);
    }

    function pager(total, pages) {
      var first = total ? state.page * PAGE + 1 : 0, last = Math.min(total, (state.page + 1) * PAGE);
      var prev = el("button", {type: "button", "class": "prev"}, "\u2039 Previous");
      var next = el("button", {type: "button", "class": "next"}, "Next \u203a");
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      prev.addEventListener("click", function () { state.page--; render(); });
      next.addEventListener("click", function () { state.page++; render(); });
      var of = total === opts.rows.length ? "" : " (of " + opts.rows.length + ")";
      var shown = total ? first + "\u2013" + last + " of " + total + of + " \u00b7 page " + (state.page + 1) +
                          " of " + pages : "nothing matches" + of;
      return el("div", {"class": "pager"}, prev, next, el("span", {"class": "shown"}, shown));
    }

    function render() {
      var rows = ordered(), pages = Math.max(1, Math.ceil(rows.length / PAGE));
      state.page = Math.min(state.page, pages - 1);
      var body = el("tbody");
      rows.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (row) {
        var tr = el("tr", {"class": opts.rowClass ? opts.rowClass(row) : null});
        opts.columns.forEach(function (col) {
          var value = col.cell ? col.cell(row) : col.text(row);
          tr.appendChild(el("td", {"class": col.cls, "data-label": col.label}, value));
        });
        body.appendChild(tr);
        if (opts.onRow) opts.onRow(row, tr);
      });
      host.replaceChildren(el("table", {"class": opts.tableClass}, head(), body), pager(rows.length, pages));
    }

    search.addEventListener("input", function () { state.query = search.value; state.page = 0; render(); });
    render();
  }

  // -- a case's timeline: its events (the evidence marked) beside its findings --------------------------
  function timeline(c, rules) {
    var marks = {};
    c.findings.forEach(function (f, i) {
      f[5].forEach(function (id) { (marks[id] = marks[id] || []).push(i + 1); });
    });
    var events;
    if (c.events === null) {
      events = el("p", {"class": "note"}, "The events of this case were not kept (--grouped frees them).");
    } else {
      events = el("ol", {"class": "timeline"});
      c.events.forEach(function (e) {  // [id, time, type, actor, data]
        var data = el("div", {"class": "ev-data"});
        Object.keys(e[4] || {}).forEach(function (k) {
          data.appendChild(el("div", {}, el("span", {"class": "k"}, k + ": "), shownValue(e[4][k])));
        });
        var head = el("div", {});
        (marks[e[0]] || []).forEach(function (n) { head.appendChild(el("span", {"class": "mark"}, n)); });
        head.appendChild(el("time", {}, shownTime(e[1])));
        head.appendChild(document.createTextNode(" "));
        head.appendChild(el("b", {}, e[2]));
        head.appendChild(el("span", {"class": "muted"}, " " + (e[3] ? e[3] + " \u00b7 " : "") + e[0]));
        var evals = null;
        if (c.explained && c.explained[e[0]]) {  // what each rule did at this event: [outcome, rule, why]
          evals = el("ul", {"class": "evals"});
          var hidden = 0;
          c.explained[e[0]].forEach(function (x) {
            if (x[0] === "not_applicable") hidden++;
            evals.appendChild(el("li", {"class": "eval " + x[0]}, el("span", {"class": "outcome"},
              x[0].replace("_", " ")), " ", el("b", {}, x[1]), " ", el("span", {"class": "muted"}, x[2])));
          });
          if (hidden) {
            var toggle = el("button", {type: "button", "class": "link"}, hidden + " rule(s) not applicable");
            toggle.addEventListener("click", function (ev) { ev.stopPropagation(); evals.classList.toggle("all"); });
            evals.appendChild(el("li", {"class": "eval more"}, toggle));
          }
        }
        events.appendChild(el("li", {"class": marks[e[0]] ? "evidence" : null}, head, data, evals));
      });
    }
    var findings = el("div", {"class": "findings"});
    c.findings.forEach(function (f, i) {  // [kind, rule, severity, text, time, events]
      var source = rules[f[1]];
      var when = f[4] ? (f[0] === "violation" ? "" : "due ") + shownTime(f[4]) : "";
      findings.appendChild(el("div", {"class": "finding" + (f[0] === "violation" ? "" : " next")},
        el("span", {"class": "mark"}, i + 1), " ", el("span", {"class": "sev " + f[2]}, f[0]), " ",
        el("b", {}, f[1]), " ", el("span", {"class": "muted"}, when),
        el("div", {}, f[3]),
        source ? el("div", {"class": "muted"}, source[0] + ", " + source[1]) : null,
        source && source[2] ? el("blockquote", {}, source[2]) : null,
        f[5].length ? el("div", {"class": "muted"}, "evidence: " + f[5].join(", ")) : null));
    });
    return el("div", {"class": "case-body"}, events, findings);
  }

  function showCases(data) {
    var open = new Set();
    data.cases.forEach(function (c) {
      c.violations = c.findings.filter(function (f) { return f[0] === "violation"; }).length;
      c.actions = c.findings.length - c.violations;
    });
    function number(key) { return function (c) { return c[key]; }; }
    pagedTable(document.getElementById("cases-table"), document.getElementById("cases-search"), {
      rows: data.cases, tableClass: "cases", sort: 1, desc: true,
      columns: [
        {label: "Case", text: function (c) { return c.id; }, cell: function (c) {
          var button = el("button", {type: "button", "class": "open", "aria-expanded": String(open.has(c.id)),
                                     "aria-label": "Open the timeline"}, open.has(c.id) ? "\u25be" : "\u25b8");
          return el("span", {"class": "case-id"}, button, caseLink(c.id, c.url));
        }},
        {label: "Violations", cls: "n", text: number("violations"), desc: true},
        {label: "Next actions", cls: "n wide", text: number("actions"), desc: true},
        {label: "Earliest due", cls: "time", text: function (c) { return shownTime(c.due_text); }, sort: number("due")},
        {label: "Events", cls: "n wide", text: function (c) { return c.events === null ? "" : c.events.length; },
         sort: function (c) { return c.events === null ? null : c.events.length; }, desc: true}
      ],
      haystack: function (c) {  // what the row and its timeline show
        var words = [c.id];
        c.findings.forEach(function (f) { words.push(f[1], f[3]); });
        (c.events || []).forEach(function (e) {
          words.push(e[0], e[2], e[3] || "");
          Object.keys(e[4] || {}).forEach(function (k) { words.push(k, shownValue(e[4][k])); });
        });
        return words.join("\n");
      },
      rowClass: function (c) { return "case-row" + (open.has(c.id) ? " opened" : ""); },
      onRow: function (c, tr) {
        tr.setAttribute("data-case", c.id);
        var detail = null;
        function show() {
          detail = el("tr", {"class": "detail"}, el("td", {colspan: "5"}, timeline(c, data.rules)));
          tr.after(detail);
        }
        tr.addEventListener("click", function () {
          if (detail) { detail.remove(); detail = null; open.delete(c.id); } else { show(); open.add(c.id); }
          tr.classList.toggle("opened", !!detail);
          var button = tr.querySelector("button.open");
          button.textContent = detail ? "\u25be" : "\u25b8";
          button.setAttribute("aria-expanded", String(!!detail));
        });
        if (open.has(c.id)) show();
      }
    });
    offerCsv(document.getElementById("violations-csv"), function () {
      var rows = [];
      data.cases.forEach(function (c) {
        c.findings.forEach(function (f) {
          if (f[0] === "violation") rows.push([f[1], c.id, f[4], f[2], f[3], f[5].join(" ")]);
        });
      });
      return csv(["rule", "case", "time", "severity", "message", "events"], rows);
    });
  }

  function showWorklist(data) {
    var header = data.work_header, at = function (name) { return header.indexOf(name); };
    var urls = new Map(data.cases.map(function (c) { return [c.id, c.url]; }));
    var overdue = at("overdue"), risk = at("at_risk"), due = at("due"), kase = at("case");
    var shown = header.filter(function (h) { return h !== "overdue" && h !== "at_risk" && h !== "events"; });
    pagedTable(document.getElementById("worklist-table"), document.getElementById("worklist-search"), {
      rows: data.work, tableClass: "stack worklist",
      columns: shown.map(function (name) {
        var i = at(name), label = name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, " ");
        var col = {label: label, text: function (r) { return r[i]; }};
        if (name === "case") col.cell = function (r) { return caseLink(r[kase], urls.get(r[kase])); };
        if (name === "due" || name === "since") {
          col.cls = "time";
          col.text = function (r) { return shownTime(r[i]); };
          col.sort = function (r) { return r[i]; };
        }
        if (name === "due") col.cell = function (r) {
          var flag = r[overdue] === "true" ? el("span", {"class": "sev overdue"}, "overdue")
            : r[risk] === "true" ? el("span", {"class": "sev warning"}, "at risk") : null;
          return el("span", {}, flag, flag ? " " : null, r[due] ? shownTime(r[due]) : "no deadline");
        };
        return col;
      }),
      haystack: function (r) { return r.join(" "); },
      rowClass: function (r) { return r[overdue] === "true" ? "overdue" : null; }
    });
    offerCsv(document.getElementById("worklist-csv"), function () { return csv(header, data.work); });
  }

  function fail(message) {
    ["worklist-table", "cases-table"].forEach(function (id) {
      document.getElementById(id).replaceChildren(el("p", {"class": "note"}, message));
    });
  }

  if (typeof DecompressionStream === "undefined") {
    fail("This browser cannot unpack the report's data: it needs DecompressionStream (Chrome and Edge 80, " +
         "Firefox 113, Safari 16.4 or later).");
    return;
  }
  unpack(document.getElementById("report-data").textContent).then(function (data) {
    showWorklist(data);
    showCases(data);
    document.body.setAttribute("data-ready", "1");
  }, function (err) { fail("The report's data could not be read: " + err); });
})();
