extension ConsoleAssets {
    /// `GET /console/app.js`: the console's script. Every text from the server goes into the page
    /// as a DOM text node (`el` below), never as HTML.
    static let script = #"""
        "use strict";
        (() => {
        const $ = (id) => document.getElementById(id);
        const pages = ["search", "collections", "insights", "evaluation", "server"];
        const keyStore = "quiver.console.key";
        let collections = [];
        let serverTimer = null;
        let lastMetrics = null;

        // An element with attributes and children (strings become text nodes).
        function el(tag, attrs, ...children) {
          const node = document.createElement(tag);
          for (const [name, value] of Object.entries(attrs || {})) {
            if (value === undefined || value === null || value === false) continue;
            if (name === "class") node.className = value; else node.setAttribute(name, value === true ? "" : String(value));
          }
          for (const child of children.flat()) {
            if (child === undefined || child === null) continue;
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          }
          return node;
        }
        const svg = (tag, attrs) => {
          const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
          for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
          return node;
        };
        const clear = (node) => { node.replaceChildren(); return node; };
        const fixed = (value, digits = 3) => (typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "–");

        function notice(text, kind) {
          const box = $("notice");
          if (!text) { box.hidden = true; box.textContent = ""; return; }
          box.className = kind || "";
          box.textContent = text;
          box.hidden = false;
        }

        class APIError extends Error {
          constructor(status, code, message) { super(message); this.status = status; this.code = code; }
        }

        // One API call with the key from the login field; the server's error code and message on failure.
        async function api(method, path, body) {
          const headers = { "Accept": "application/json" };
          const key = sessionStorage.getItem(keyStore);
          if (key) headers["Authorization"] = "Bearer " + key;
          if (body !== undefined) headers["Content-Type"] = "application/json";
          let response;
          try {
            response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
          } catch (error) {
            throw new APIError(0, "unreachable", "the server did not answer (" + error.message + ")");
          }
          const text = await response.text();
          if (!response.ok) {
            let code = "http_" + response.status, message = text.slice(0, 300);
            try { const parsed = JSON.parse(text); code = parsed.error?.code || code; message = parsed.error?.message || message; } catch {}
            if (response.status === 401) message = "this server needs an API key: enter one above (" + message + ")";
            throw new APIError(response.status, code, message);
          }
          return path === "/metrics" ? text : JSON.parse(text);
        }

        function failed(error) {
          notice(error instanceof APIError ? error.code + ": " + error.message : String(error));
          if (error instanceof APIError && error.status === 401) $("key").focus();
        }

        // --- navigation -----------------------------------------------------------------------
        function currentPage() {
          const name = location.hash.replace(/^#/, "");
          return pages.includes(name) ? name : "search";
        }

        // Shows the page the address names; `navigated` clears the previous page's notice.
        async function show(navigated) {
          const page = currentPage();
          for (const name of pages) $("page-" + name).hidden = name !== page;
          for (const link of document.querySelectorAll("nav a")) {
            if (link.dataset.page === page) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
          }
          document.title = $("page-" + page).dataset.title + " · Quiver console";
          if (serverTimer) { clearInterval(serverTimer); serverTimer = null; }
          if (navigated) notice("");
          try {
            if (page === "collections") await showCollections();
            if (page === "insights" && $("i-collection").value) await showInsights();
            if (page === "evaluation" && $("e-collection").value) await showShadow();
            if (page === "server") { lastMetrics = null; await showServer(); serverTimer = setInterval(showServer, 5000); }
          } catch (error) { failed(error); }
        }

        async function loadCollections() {
          const list = await api("GET", "/v1/collections");
          collections = list.collections || [];
          for (const id of ["s-collection", "i-collection", "e-collection"]) {
            const select = $(id), before = select.value;
            clear(select).append(...collections.map((c) => el("option", { value: c.name }, c.name)));
            if (collections.some((c) => c.name === before)) select.value = before;
          }
          if (collections.length === 0) notice("No collections yet: create one with the API or `quiver import`.", "info");
        }

        // --- search ---------------------------------------------------------------------------
        function queryWords(text) {
          return [...new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 2))];
        }

        // The passage with the query's words marked (text nodes and <mark> only).
        function highlighted(text, words) {
          const node = el("p", { class: "passage" });
          if (words.length === 0) { node.append(text); return node; }
          const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
          const pattern = new RegExp("(" + escaped.join("|") + ")", "giu");
          let last = 0;
          for (const match of text.matchAll(pattern)) {
            node.append(text.slice(last, match.index), el("mark", {}, match[0]));
            last = match.index + match[0].length;
          }
          node.append(text.slice(last));
          return node;
        }

        function ago(seconds) {
          if (!(seconds >= 0)) return "";
          if (seconds < 90) return Math.round(seconds) + " s";
          if (seconds < 5400) return Math.round(seconds / 60) + " min";
          if (seconds < 172800) return Math.round(seconds / 3600) + " h";
          return Math.round(seconds / 86400) + " days";
        }

        function freshnessBadges(freshness) {
          if (!freshness) return [];
          const badges = [];
          const updated = Date.parse(freshness.updated_at), embedded = Date.parse(freshness.embedded_at);
          if (isFinite(updated) && isFinite(embedded) && updated > embedded) {
            badges.push(el("span", { class: "badge stale", title: "The source changed after this vector was made" },
              "Source changed after it was embedded"));
          }
          if (freshness.updated_at) badges.push(el("span", { class: "badge" }, "source changed " + freshness.updated_at.slice(0, 10)));
          if (freshness.embedded_at) badges.push(el("span", { class: "badge" }, "embedded " + ago(freshness.age_seconds) + " ago"));
          if (freshness.model?.id) badges.push(el("span", { class: "badge" }, "model " + freshness.model.id));
          return badges;
        }

        function searchParams() {
          return {
            collection: $("s-collection").value, q: $("s-q").value.trim(), mode: $("s-mode").value,
            k: $("s-k").value, generation: $("s-generation").value, filter: $("s-filter").value.trim(),
          };
        }

        async function runSearch() {
          const p = searchParams();
          if (!p.collection || !p.q) return;
          const link = new URLSearchParams({ collection: p.collection, q: p.q, mode: p.mode });
          if (p.k !== "10") link.set("k", p.k);
          if (p.generation !== "current") link.set("generation", p.generation);
          if (p.filter) link.set("filter", p.filter);
          history.replaceState(null, "", "/?" + link.toString() + "#search");
          const body = { text: p.q, mode: p.mode, k: Number(p.k) || 10 };
          if (p.generation === "candidate") body.generation = "candidate";
          if (p.filter) {
            try { body.filter = JSON.parse(p.filter); } catch (error) { notice("The filter is not JSON: " + error.message); return; }
          }
          notice("");
          $("s-summary").textContent = "Searching…";
          clear($("s-results"));
          $("s-verdict").hidden = true;
          let answer;
          try { answer = await api("POST", "/v1/collections/" + encodeURIComponent(p.collection) + "/query", body); } catch (error) {
            $("s-summary").textContent = "";
            failed(error);
            return;
          }
          const verdict = answer.verdict;
          if (verdict) {
            const box = $("s-verdict");
            box.className = "verdict " + (verdict.answered ? "answered" : "unanswered");
            box.textContent = (verdict.answered ? "Answered" : "No good answer in this collection")
              + " — confidence " + fixed(verdict.confidence, 2) + " (threshold " + fixed(verdict.threshold, 2) + ")";
            box.hidden = false;
          }
          const timings = answer.timings || {};
          const total = (timings.embed_ms || 0) + (timings.search_ms || 0) + (timings.fetch_ms || 0);
          $("s-summary").textContent = answer.results.length + " hits from generation " + answer.index?.generation
            + " (" + (answer.model?.id || "no model") + ") in " + fixed(total, 1) + " ms; index lag "
            + fixed(answer.index?.lag_seconds, 3) + " s" + (answer.query_id ? "; query id " + answer.query_id : "");
          const words = queryWords(p.q);
          $("s-results").append(...answer.results.map((hit) => {
            const scores = hit.scores ? Object.entries(hit.scores).map(([k, v]) => k + " " + fixed(v, 3)).join(" · ") : "";
            return el("li", { class: "hit" },
              el("div", { class: "hit-head" },
                el("span", { class: "hit-title" }, hit.title || hit.id),
                el("span", { class: "hit-id" }, hit.id),
                el("span", { class: "score" }, "score " + fixed(hit.score, 4))),
              hit.passage ? highlighted(hit.passage.text, words) : null,
              scores ? el("div", { class: "score" }, scores) : null,
              el("div", { class: "badges" }, freshnessBadges(hit.freshness)));
          }));
        }

        // --- collections ----------------------------------------------------------------------
        function facts(list, entries) {
          clear(list).append(...entries.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value ?? "–")]));
        }

        async function showCollections() {
          await loadCollections();
          const body = clear($("c-table").querySelector("tbody"));
          body.append(...collections.map((c) => el("tr", {},
            el("td", {}, el("a", { href: "#collections", "data-collection": c.name }, c.name)),
            el("td", {}, c.documents), el("td", {}, c.model?.id || "–"),
            el("td", {}, (c.generations || []).map((g) => g.generation + " " + g.state).join(", ")),
            el("td", {}, fixed(c.index?.lag_seconds, 3) + " s"), el("td", {}, c.index?.pending ?? "–"))));
          for (const link of body.querySelectorAll("a[data-collection]")) {
            link.addEventListener("click", (event) => { event.preventDefault(); showCollection(link.dataset.collection).catch(failed); });
          }
          if (collections.length > 0 && $("c-detail").hidden) await showCollection(collections[0].name);
        }

        async function showCollection(name) {
          const [c, info] = await Promise.all([api("GET", "/v1/collections/" + encodeURIComponent(name)), api("GET", "/v1/info")]);
          $("c-detail").hidden = false;
          $("c-detail").dataset.collection = name;
          $("c-name").textContent = c.name;
          facts($("c-facts"), [
            ["Documents", c.documents], ["Model", (c.model?.id || "–") + " (" + c.dimensions + " dimensions, " + c.distance + ")"],
            ["Precision", (/@bf16$/.test(c.model?.id || "") ? "bf16 encoder on " + (info.kernels?.bf16 || "?")
              : /@int8$/.test(c.model?.id || "") ? "int8 encoder on " + (info.kernels?.int8 || "?")
              : "fp32 encoder on " + (info.kernels?.active || "?") + " kernels")
              + "; float32 vectors"],
            ["Index", "generation " + c.index?.generation + ", " + c.index?.vectors + " vectors, indexed to seq " + c.index?.indexed_seq
              + " of " + c.index?.store_seq + ", " + c.index?.pending + " pending"],
            ["Index lag", fixed(c.index?.lag_seconds, 3) + " s"], ["Tombstones", c.tombstones],
            ["Created", c.created_at],
            ["Last sync", c.index?.last_sync_at || "none yet (`quiver index --prune` records when a full sync finished)"],
          ]);
          clear($("c-generations").querySelector("tbody")).append(...(c.generations || []).map((g) => el("tr", {},
            el("td", {}, g.generation), el("td", {}, g.state), el("td", {}, g.model?.id || "–"), el("td", {}, g.dimensions),
            el("td", {}, g.chunking ? g.chunking.chunk_tokens + " tokens, overlap " + g.chunking.chunk_overlap : "–"))));
          facts($("c-settings"), Object.entries(c.settings || {}).map(([k, v]) => [k, JSON.stringify(v)]));
          $("c-verdict").textContent = c.verdict
            ? "Fitted on " + (c.verdict.samples ?? "?") + " pseudo-queries of generation " + c.verdict.generation
              + "; training AUC " + fixed(c.verdict.training_auc, 3)
            : (c.verdict_error || "Not calibrated yet: the first query in vector or hybrid mode starts it.");
          clear($("c-doc"));
        }

        async function showDocument() {
          const name = $("c-detail").dataset.collection, id = $("c-doc-id").value;
          const doc = await api("GET", "/v1/collections/" + encodeURIComponent(name) + "/documents/" + encodeURIComponent(id));
          clear($("c-doc")).append(el("h5", {}, doc.title || doc.id), el("pre", {}, JSON.stringify(doc, null, 2)));
        }

        // --- charts ---------------------------------------------------------------------------
        // Grouped bars: one group per label, one bar per series; values scaled to the largest.
        function barChart(figure, labels, series, options = {}) {
          clear(figure);
          const width = 760, height = 220, left = 40, bottom = 40, top = 10;
          const max = options.max ?? Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v) => isFinite(v))));
          const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
          chart.append(Object.assign(svg("title"), { textContent: figure.getAttribute("aria-label") || "chart" }));
          const groupWidth = (width - left) / Math.max(1, labels.length);
          const barWidth = Math.max(2, (groupWidth * 0.8) / Math.max(1, series.length));
          for (const tick of [0, 0.5, 1]) {
            const y = top + (height - bottom - top) * (1 - tick);
            chart.append(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#d6dbe1" }));
            const text = svg("text", { x: 2, y: y + 4, "font-size": 11, fill: "#5a6470" });
            text.textContent = options.max === 1 ? tick.toFixed(1) : Math.round(max * tick);
            chart.append(text);
          }
          labels.forEach((label, i) => {
            series.forEach((s, j) => {
              const value = isFinite(s.values[i]) ? s.values[i] : 0;
              const h = (height - bottom - top) * Math.min(1, value / max);
              const bar = svg("rect", {
                x: left + i * groupWidth + groupWidth * 0.1 + j * barWidth, y: height - bottom - h, width: barWidth - 1, height: h, fill: s.color,
              });
              bar.append(Object.assign(svg("title"), { textContent: label + " — " + s.name + ": " + fixed(s.values[i], 3) }));
              chart.append(bar);
            });
            if (labels.length <= 12 || i % Math.ceil(labels.length / 12) === 0) {
              const text = svg("text", { x: left + i * groupWidth + groupWidth / 2, y: height - bottom + 16, "font-size": 11,
                "text-anchor": "middle", fill: "#1b1f24" });
              text.textContent = label;
              chart.append(text);
            }
          });
          figure.append(chart, el("figcaption", { class: "legend" }, series.map((s) =>
            el("span", {}, el("span", { class: "swatch", style: null, "data-color": s.color }), s.name))));
          // Inline styles are blocked by the content security policy: colour the swatches here.
          for (const swatch of figure.querySelectorAll(".swatch")) swatch.style.background = swatch.dataset.color;
        }

        // --- insights -------------------------------------------------------------------------
        async function showInsights() {
          const name = $("i-collection").value;
          if (!name) return;
          const since = new Date(Date.now() - Number($("i-since").value) * 86400000).toISOString();
          const report = await api("GET", "/v1/collections/" + encodeURIComponent(name) + "/insights?since=" + encodeURIComponent(since));
          const info = collections.find((c) => c.name === name);
          const off = info && info.settings && info.settings.query_log === false;
          $("i-off").hidden = !off;
          $("i-off").textContent = off
            ? "The query log is off for this collection: turn it on with PATCH /v1/collections/" + name + ' {"query_log": true}.' : "";
          facts($("i-summary"), [
            ["Queries", report.queries], ["Unanswered", report.unanswered],
            ["Low confidence (below " + fixed(report.low_confidence_below, 2) + ")", report.low_confidence],
            ["Without a verdict", report.without_verdict],
            ["Feedback", (report.feedback?.helpful ?? 0) + " helpful, " + (report.feedback?.unhelpful ?? 0) + " not helpful"],
          ]);
          const buckets = report.over_time || [];
          barChart($("i-chart"), buckets.map((b) => new Date(b.start * 1000).toISOString().slice(5, 10)), [
            { name: "queries", color: "#1f5fbf", values: buckets.map((b) => b.queries) },
            { name: "unanswered", color: "#b3261e", values: buckets.map((b) => b.unanswered) },
          ]);
          clear($("i-gaps").querySelector("tbody")).append(...(report.gaps || []).map((g) => el("tr", {},
            el("td", {}, (g.queries || []).join(" · ")), el("td", {}, g.size), el("td", {}, g.unanswered),
            el("td", {}, fixed(g.mean_confidence, 2)), el("td", {}, g.top_document || "–"))));
          if ((report.gaps || []).length === 0) {
            $("i-gaps").querySelector("tbody").append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No low-confidence queries.")));
          }
          clear($("i-top-queries")).append(...(report.top_queries || []).map((q) =>
            el("li", {}, q.text ?? q.key, " ", el("span", { class: "muted" }, "× " + q.count + (q.unanswered ? ", unanswered " + q.unanswered : "")))));
          clear($("i-top-documents")).append(...(report.top_documents || []).map((d) =>
            el("li", {}, d.id, " ", el("span", { class: "muted" }, "× " + d.count + " (" + d.helpful + " helpful, " + d.unhelpful + " not)"))));
        }

        // --- evaluation and shadow ------------------------------------------------------------
        async function runEvaluation() {
          const name = $("e-collection").value;
          const fromFeedback = $("e-feedback").checked;
          let queries;
          if (!fromFeedback) {
            try { queries = JSON.parse($("e-queries").value); } catch (error) { notice("The judged queries are not JSON: " + error.message); return; }
          }
          const configurations = [...$("e-form").querySelectorAll("fieldset input:checked")].map((box) =>
            box.value === "candidate" ? { mode: "hybrid", generation: "candidate" } : { mode: box.value });
          if (configurations.length === 0) { notice("Choose at least one configuration."); return; }
          notice("Evaluating…", "info");
          const body = fromFeedback ? { judgments: "feedback", configurations } : { queries, configurations };
          clear($("e-table").querySelector("tbody"));
          $("e-summary").textContent = "";
          const report = await api("POST", "/v1/collections/" + encodeURIComponent(name) + "/evaluate", body);
          notice("");
          $("e-summary").textContent = report.query_count + " judged queries" + (fromFeedback ? " from users' feedback" : "")
            + ", k = " + report.k;
          const metrics = ["ndcg@10", "mrr@10", "precision@1"];
          const results = report.configurations || [];
          const recall = Object.keys(results[0]?.metrics || {}).find((m) => m.startsWith("recall@"));
          if (recall) metrics.push(recall);
          const colors = ["#1f5fbf", "#1d7a3a", "#8a5a00", "#7b3fa0", "#b3261e", "#3d7f8c", "#555", "#c05a9c"];
          barChart($("e-chart"), metrics, results.map((r, i) => ({ name: r.label, color: colors[i % colors.length],
            values: metrics.map((m) => r.metrics[m]) })), { max: 1 });
          const table = $("e-table");
          clear(table.querySelector("thead")).append(el("tr", {}, el("th", { scope: "col" }, "Configuration"),
            metrics.map((m) => el("th", { scope: "col" }, m)), el("th", { scope: "col" }, "p50 ms"), el("th", { scope: "col" }, "p99 ms")));
          clear(table.querySelector("tbody")).append(...results.map((r) => el("tr", {}, el("td", {}, r.label),
            metrics.map((m) => el("td", {}, fixed(r.metrics[m], 3))), el("td", {}, fixed(r.latency_ms?.p50, 1)),
            el("td", {}, fixed(r.latency_ms?.p99, 1)))));
        }

        async function showShadow() {
          const name = $("e-collection").value;
          if (!name) return;
          const report = await api("GET", "/v1/collections/" + encodeURIComponent(name) + "/insights");
          const shadow = report.shadow || [];
          $("e-shadow-none").textContent = shadow.length === 0
            ? "No shadow comparisons yet: build a candidate generation and set shadow_rate (PATCH /v1/collections/" + name + ")." : "";
          if (shadow.length === 0) { clear($("e-shadow-chart")); clear($("e-shadow")); return; }
          const s = shadow[0];
          barChart($("e-shadow-chart"), ["nDCG (feedback)", "same first hit", "overlap@10"], [
            { name: "current (generation " + s.current_generation + ")", color: "#1f5fbf", values: [s.ndcg_current, 1, 1] },
            { name: "candidate (generation " + s.candidate_generation + ")", color: "#1d7a3a",
              values: [s.ndcg_candidate, s.same_first / Math.max(1, s.queries), s.mean_overlap_at_10] },
          ], { max: 1 });
          facts($("e-shadow"), [
            ["Compared queries", s.queries], ["With feedback", s.judged],
            ["Mean overlap@10", fixed(s.mean_overlap_at_10, 3) + " (p10 " + fixed(s.overlap_p10, 2) + ", p50 " + fixed(s.overlap_p50, 2)
              + ", p90 " + fixed(s.overlap_p90, 2) + ")"],
            ["Same first hit", s.same_first + " of " + s.queries], ["Mean top score change", fixed(s.mean_top_score_delta, 4)],
            ["nDCG@10 on feedback", "current " + fixed(s.ndcg_current, 3) + ", candidate " + fixed(s.ndcg_candidate, 3)],
          ]);
        }

        // --- server ---------------------------------------------------------------------------
        // Prometheus text to {name: [{labels, value}]}.
        function parseMetrics(text) {
          const out = {};
          for (const line of text.split("\n")) {
            const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
            if (!m) continue;
            const labels = {};
            for (const pair of (m[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
            (out[m[1]] ||= []).push({ labels, value: Number(m[4]) });
          }
          return out;
        }

        // The upper bound of the bucket holding quantile q of a histogram's counts.
        function quantile(buckets, q) {
          const sorted = buckets.map((b) => ({ le: b.labels.le === "+Inf" ? Infinity : Number(b.labels.le), count: b.value }))
            .sort((a, b) => a.le - b.le);
          const total = sorted.length ? sorted[sorted.length - 1].count : 0;
          if (!total) return NaN;
          const bucket = sorted.find((b) => b.count >= q * total);
          return bucket ? bucket.le : NaN;
        }

        const ms = (seconds) => (isFinite(seconds) ? (seconds * 1000 < 1 ? "≤ 1 ms" : "≤ " + Math.round(seconds * 1000) + " ms") : "> 10 s");

        async function showServer() {
          try {
            const [info, text] = await Promise.all([api("GET", "/v1/info"), api("GET", "/metrics")]);
            const now = performance.now(), metrics = parseMetrics(text);
            facts($("v-info"), [
              ["Version", info.version], ["Model", info.model?.id + " (" + info.model?.dimensions + " dimensions, " + info.model?.pooling + ")"],
              ["Kernels", info.kernels?.active], ["Batching", info.batching?.enabled
                ? "on: wait " + info.batching.max_wait_ms + " ms, " + info.batching.token_budget + " tokens, " + info.batching.workers + " workers"
                : "off"],
              ["API keys", info.auth?.enabled ? "required" : "off"],
            ]);
            const totals = {};
            for (const s of metrics.quiver_http_requests_total || []) {
              const key = s.labels.route + " " + s.labels.method;
              totals[key] = (totals[key] || 0) + s.value;
            }
            const rows = Object.entries(totals).sort((a, b) => b[1] - a[1]).map(([key, count]) => {
              const [route, method] = key.split(" ");
              const buckets = (metrics.quiver_http_request_duration_seconds_bucket || [])
                .filter((b) => b.labels.route === route && b.labels.method === method);
              const before = lastMetrics?.totals[key];
              const rate = lastMetrics && before !== undefined ? (count - before) / ((now - lastMetrics.at) / 1000) : NaN;
              return el("tr", {}, el("td", {}, route), el("td", {}, method), el("td", {}, count), el("td", {}, fixed(rate, 2)),
                el("td", {}, ms(quantile(buckets, 0.5))), el("td", {}, ms(quantile(buckets, 0.95))), el("td", {}, ms(quantile(buckets, 0.99))));
            });
            clear($("v-routes").querySelector("tbody")).append(...rows);
            lastMetrics = { at: now, totals };
            const one = (name) => (metrics[name] || []).reduce((sum, s) => sum + s.value, 0);
            const batches = one("quiver_embed_batch_requests_count");
            facts($("v-batcher"), [
              ["Queued requests", one("quiver_embed_queue_requests")], ["Queued tokens", one("quiver_embed_queue_tokens")],
              ["Forward passes", batches],
              ["Requests per pass (mean)", batches ? fixed(one("quiver_embed_batch_requests_sum") / batches, 2) : "–"],
              ["Rejected (queue full)", one("quiver_embed_rejected_total")],
            ]);
          } catch (error) { failed(error); }
        }

        // --- start ----------------------------------------------------------------------------
        async function start() {
          $("key").value = sessionStorage.getItem(keyStore) || "";
          $("login").addEventListener("submit", async (event) => {
            event.preventDefault();
            const key = $("key").value.trim();
            if (key) sessionStorage.setItem(keyStore, key); else sessionStorage.removeItem(keyStore);
            await boot();
          });
          $("logout").addEventListener("click", () => { sessionStorage.removeItem(keyStore); $("key").value = ""; boot(); });
          $("search-form").addEventListener("submit", (event) => { event.preventDefault(); runSearch(); });
          $("c-doc-form").addEventListener("submit", (event) => { event.preventDefault(); showDocument().catch(failed); });
          $("i-form").addEventListener("submit", (event) => { event.preventDefault(); showInsights().catch(failed); });
          $("e-form").addEventListener("submit", (event) => { event.preventDefault(); runEvaluation().catch(failed); });
          $("e-collection").addEventListener("change", () => showShadow().catch(failed));
          $("e-queries").value = JSON.stringify([{ text: "how do I reset my password", relevant: ["kb-a-002"] }]);
          window.addEventListener("hashchange", () => { show(true); $("main").focus(); });
          await boot();
        }

        async function boot() {
          notice("");
          try { await loadCollections(); } catch (error) { failed(error); await show(); return; }
          // A deep link: /?collection=C&q=TEXT&mode=hybrid runs that search.
          const params = new URLSearchParams(location.search);
          const wanted = params.get("collection");
          if (wanted && collections.some((c) => c.name === wanted)) {
            for (const id of ["s-collection", "i-collection", "e-collection"]) $(id).value = wanted;
          }
          if (["hybrid", "vector", "keyword"].includes(params.get("mode"))) $("s-mode").value = params.get("mode");
          if (params.get("k")) $("s-k").value = params.get("k");
          if (params.get("generation") === "candidate") $("s-generation").value = "candidate";
          if (params.get("filter")) $("s-filter").value = params.get("filter");
          await show();
          if (params.get("q")) {
            $("s-q").value = params.get("q");
            if (wanted && !collections.some((c) => c.name === wanted)) { notice("No collection named " + wanted + " on this server."); return; }
            if (currentPage() === "search") await runSearch();
          }
        }

        if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
        })();
        """#
}
