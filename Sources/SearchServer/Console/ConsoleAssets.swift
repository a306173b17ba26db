// The web console's page and style, compiled into the binary (see ``ConsoleController``); the
// script is in ConsoleScript.swift. Plain HTML, CSS and JavaScript, no framework, nothing fetched
// from elsewhere.

/// The console's assets.
enum ConsoleAssets {
    /// `GET /`: the page. Every view is a `<section>` the script shows one at a time.
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Quiver console</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/console/app.css">
        <script src="/console/app.js" defer></script>
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <h1><a href="/#search" id="home">Quiver</a></h1>
          <nav aria-label="Pages">
            <a href="#search" data-page="search">Search</a>
            <a href="#collections" data-page="collections">Collections</a>
            <a href="#insights" data-page="insights">Insights</a>
            <a href="#evaluation" data-page="evaluation">Evaluation</a>
            <a href="#server" data-page="server">Server</a>
          </nav>
          <form id="login" autocomplete="off">
            <label for="key">API key</label>
            <input id="key" type="password" placeholder="none needed without keys" spellcheck="false">
            <button type="submit">Use key</button>
            <button type="button" id="logout">Forget</button>
          </form>
        </header>
        <div id="notice" role="alert" hidden></div>
        <main id="main" tabindex="-1">

        <section id="page-search" data-title="Search" hidden>
          <h2>Search</h2>
          <form id="search-form" class="grid">
            <label>Collection <select id="s-collection" name="collection" required></select></label>
            <label class="wide">Query <input id="s-q" name="q" type="search" required maxlength="4000"
              placeholder="What are your users asking?"></label>
            <label>Mode <select id="s-mode" name="mode">
              <option value="hybrid">hybrid</option><option value="vector">vector</option><option value="keyword">keyword</option>
            </select></label>
            <label>k <input id="s-k" name="k" type="number" min="1" max="100" value="10"></label>
            <label>Generation <select id="s-generation" name="generation">
              <option value="current">current</option><option value="candidate">candidate</option>
            </select></label>
            <label class="wide">Filter (JSON, optional) <input id="s-filter" name="filter" spellcheck="false"
              placeholder='{"category": "billing"}'></label>
            <div class="actions"><button type="submit" id="s-run">Search</button></div>
          </form>
          <div id="s-verdict" class="verdict" hidden></div>
          <p id="s-summary" class="muted"></p>
          <ol id="s-results" class="hits"></ol>
        </section>

        <section id="page-collections" data-title="Collections" hidden>
          <h2>Collections</h2>
          <div class="scroll"><table id="c-table">
            <thead><tr><th scope="col">Name</th><th scope="col">Documents</th><th scope="col">Model</th>
            <th scope="col">Generations</th><th scope="col">Index lag</th><th scope="col">Pending</th></tr></thead>
            <tbody></tbody>
          </table></div>
          <div id="c-detail" hidden>
            <h3 id="c-name"></h3>
            <dl id="c-facts" class="facts"></dl>
            <h4>Generations</h4>
            <div class="scroll"><table id="c-generations">
              <thead><tr><th scope="col">Generation</th><th scope="col">State</th><th scope="col">Model</th>
              <th scope="col">Dimensions</th><th scope="col">Chunking</th></tr></thead><tbody></tbody>
            </table></div>
            <h4>Settings</h4>
            <dl id="c-settings" class="facts"></dl>
            <h4>Verdict calibration</h4>
            <p id="c-verdict" class="muted"></p>
            <h4>Look up a document</h4>
            <form id="c-doc-form" class="inline">
              <label for="c-doc-id">Document id</label>
              <input id="c-doc-id" required maxlength="512" spellcheck="false">
              <button type="submit">Show</button>
            </form>
            <div id="c-doc"></div>
          </div>
        </section>

        <section id="page-insights" data-title="Insights" hidden>
          <h2>Insights</h2>
          <form id="i-form" class="inline">
            <label>Collection <select id="i-collection" required></select></label>
            <label>Since <select id="i-since">
              <option value="1">last 24 hours</option><option value="7" selected>last 7 days</option>
              <option value="30">last 30 days</option>
            </select></label>
            <button type="submit">Show</button>
          </form>
          <p id="i-off" class="muted" hidden></p>
          <dl id="i-summary" class="facts"></dl>
          <h3>Queries over time</h3>
          <figure id="i-chart" class="chart" aria-label="Queries and unanswered queries over time"></figure>
          <h3>Questions without a good answer, by topic</h3>
          <div class="scroll"><table id="i-gaps">
            <thead><tr><th scope="col">Topic (most central queries)</th><th scope="col">Queries</th>
            <th scope="col">Unanswered</th><th scope="col">Mean confidence</th><th scope="col">Best document</th></tr></thead>
            <tbody></tbody>
          </table></div>
          <div class="columns">
            <div><h3>Most asked</h3><ol id="i-top-queries" class="plain"></ol></div>
            <div><h3>Most returned documents</h3><ol id="i-top-documents" class="plain"></ol></div>
          </div>
        </section>

        <section id="page-evaluation" data-title="Evaluation" hidden>
          <h2>Evaluation and shadow traffic</h2>
          <form id="e-form" class="grid">
            <label>Collection <select id="e-collection" required></select></label>
            <label class="wide">Judged queries (JSON: [{"text": …, "relevant": [ids]}])
              <textarea id="e-queries" rows="5" spellcheck="false" required></textarea></label>
            <fieldset class="wide"><legend>Configurations</legend>
              <label><input type="checkbox" value="hybrid" checked> hybrid</label>
              <label><input type="checkbox" value="vector" checked> vector</label>
              <label><input type="checkbox" value="keyword" checked> keyword</label>
              <label><input type="checkbox" value="candidate"> hybrid on the candidate generation</label>
            </fieldset>
            <label class="wide check"><input type="checkbox" id="e-feedback"> Judge by users' feedback in the query log instead
              of the queries above</label>
            <div class="actions"><button type="submit">Evaluate</button></div>
          </form>
          <p id="e-summary" class="muted"></p>
          <figure id="e-chart" class="chart" aria-label="Metrics per configuration"></figure>
          <div class="scroll"><table id="e-table"><thead></thead><tbody></tbody></table></div>
          <h3>Shadow traffic (live queries answered by the candidate too)</h3>
          <p id="e-shadow-none" class="muted"></p>
          <figure id="e-shadow-chart" class="chart" aria-label="Current and candidate generations side by side"></figure>
          <dl id="e-shadow" class="facts"></dl>
        </section>

        <section id="page-server" data-title="Server" hidden>
          <h2>Server</h2>
          <dl id="v-info" class="facts"></dl>
          <h3>Requests since the server started (rate over the last refresh)</h3>
          <div class="scroll"><table id="v-routes">
            <thead><tr><th scope="col">Route</th><th scope="col">Method</th><th scope="col">Requests</th>
            <th scope="col">Per second</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th></tr></thead>
            <tbody></tbody>
          </table></div>
          <h3>Embedding batcher</h3>
          <dl id="v-batcher" class="facts"></dl>
          <p class="muted">Refreshed every 5 s while this page is open; latency percentiles are read from the
            histogram buckets of <code>/metrics</code> (upper bucket bounds).</p>
        </section>
        </main>
        </body>
        </html>
        """#

    /// `GET /console/app.css`.
    static let style = #"""
        :root { --fg: #1b1f24; --muted: #5a6470; --line: #d6dbe1; --bg: #ffffff; --soft: #f3f5f8; --accent: #1f5fbf;
          --good: #1d7a3a; --bad: #b3261e; --warn: #8a5a00; font-family: system-ui, sans-serif; color: var(--fg);
          background: var(--bg); }
        * { box-sizing: border-box; }
        body { margin: 0; line-height: 1.45; }
        a { color: var(--accent); }
        :focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; }
        .skip { position: absolute; left: -9999px; }
        .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 2; }
        header { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; padding: 10px 16px;
          border-bottom: 1px solid var(--line); background: var(--soft); }
        header h1 { font-size: 1.2rem; margin: 0; }
        header h1 a { text-decoration: none; color: var(--fg); }
        nav { display: flex; flex-wrap: wrap; gap: 4px 14px; }
        nav a { padding: 4px 2px; text-decoration: none; }
        nav a[aria-current="page"] { font-weight: 700; border-bottom: 2px solid var(--accent); }
        #login { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-left: auto; }
        #login input { width: 14rem; max-width: 100%; }
        main { padding: 12px 16px 40px; max-width: 1200px; margin: 0 auto; }
        h2 { margin-top: 0.3rem; }
        input, select, textarea, button { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px;
          max-width: 100%; }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
        button[type="button"] { background: var(--bg); color: var(--fg); border-color: var(--line); }
        .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: 10px 14px; align-items: end; }
        .grid label, .grid fieldset { display: flex; flex-direction: column; gap: 3px; }
        .grid input, .grid select { min-height: 2.2rem; }
        .grid fieldset { flex-direction: row; flex-wrap: wrap; gap: 6px 16px; border: 1px solid var(--line); border-radius: 4px; }
        .grid fieldset label { flex-direction: row; align-items: center; gap: 4px; }
        .grid .wide { grid-column: 1 / -1; }
        .grid label.check { flex-direction: row; align-items: center; gap: 6px; }
        .inline { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; margin-bottom: 10px; }
        .inline label { display: flex; flex-direction: column; gap: 3px; }
        .muted { color: var(--muted); }
        #notice { margin: 10px 16px 0; padding: 8px 12px; border-radius: 4px; background: #fdecea; color: var(--bad);
          border: 1px solid #f4c7c3; overflow-wrap: anywhere; }
        #notice.info { background: #e8f1fd; color: var(--accent); border-color: #c6dbf7; }
        .verdict { margin: 14px 0 6px; padding: 8px 12px; border-radius: 4px; font-weight: 600; }
        .verdict.answered { background: #e6f4ea; color: var(--good); }
        .verdict.unanswered { background: #fdecea; color: var(--bad); }
        .hits { padding-left: 1.4rem; }
        .hits > li { margin: 0 0 14px; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; }
        .hit-head { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
        .hit-title { font-weight: 650; overflow-wrap: anywhere; }
        .hit-id, .score { font-family: ui-monospace, monospace; font-size: 0.9rem; color: var(--muted); overflow-wrap: anywhere; }
        .passage { margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
        mark { background: #fff1a8; }
        .badges { display: flex; flex-wrap: wrap; gap: 6px; }
        .badge { font-size: 0.8rem; padding: 1px 8px; border-radius: 10px; background: var(--soft); border: 1px solid var(--line); }
        .badge.stale { background: #fff4e0; color: var(--warn); border-color: #f0d199; font-weight: 600; }
        .scroll { overflow-x: auto; max-width: 100%; }
        table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
        tbody tr:hover { background: var(--soft); }
        .facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; }
        .facts dt { color: var(--muted); }
        .facts dd { margin: 0; overflow-wrap: anywhere; }
        .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 16px; }
        .plain { padding-left: 1.4rem; }
        .plain li { overflow-wrap: anywhere; }
        .chart { margin: 6px 0 16px; max-width: 100%; }
        .chart svg { width: 100%; max-width: 760px; height: auto; display: block; }
        .chart .legend { display: flex; flex-wrap: wrap; gap: 12px; font-size: 0.85rem; }
        .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
        pre { background: var(--soft); padding: 8px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
        @media (max-width: 600px) {
          header { padding: 8px 10px; }
          #login { margin-left: 0; width: 100%; }
          #login input { flex: 1; width: auto; }
          main { padding: 10px; }
          .facts { grid-template-columns: 1fr; }
          .facts dd { margin-bottom: 6px; }
        }
        """#
}
