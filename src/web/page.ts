/**
 * The page shell. Static markup only (no server data is ever interpolated here): the script
 * fills it in with text nodes. It already says "Loading" so that, before the script runs or
 * if it cannot, the page is never blank.
 */

const FAVICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Cpath d='M16 2l12 7v14l-12 7-12-7V9z' fill='%23f5a524'/%3E%3C/svg%3E";

const KPIS: [id: string, label: string][] = [
  ['total', 'Total tasks'],
  ['completed', 'Completed'],
  ['rate', 'Completion rate'],
  ['active', 'Active users'],
  ['online', 'Online now'],
];

/** Team insights (issue 12): deadline and cycle-time figures, the workload table (src/web/client/insights.ts). */
const INSIGHTS = `      <div class="insights" aria-label="Deadlines and cycle time">
        <div class="kpi kpi-overdue"><div class="kpi-label">Overdue</div><div class="kpi-value" id="kpi-overdue" data-testid="kpi-overdue">–</div><div class="kpi-foot">open, past their due date</div></div>
        <div class="kpi kpi-due-soon"><div class="kpi-label">Due in 7 days</div><div class="kpi-value" id="kpi-due-soon" data-testid="kpi-due-soon">–</div><div class="kpi-foot">open, due this week</div></div>
        <div class="kpi kpi-cycle"><div class="kpi-label">Cycle time</div><div class="kpi-value" id="kpi-cycle" data-testid="kpi-cycle">–</div><div class="kpi-foot" id="kpi-cycle-foot"></div></div>
      </div>
      <div class="card workload-card">
        <div class="card-head"><h2>Workload</h2><span class="muted" id="workload-total"></span></div>
        <p class="muted" id="workload-state">Sign in to see who carries what.</p>
        <table class="workload" id="workload-table" data-testid="workload" hidden>
          <thead><tr><th scope="col">Person</th><th scope="col">Open</th><th scope="col">To do</th><th scope="col">In progress</th><th scope="col">Review</th><th scope="col">Overdue</th><th scope="col">Done · 7 days</th></tr></thead>
          <tbody id="workload-rows"></tbody>
        </table>
      </div>`;

export function renderPage(): string {
  const kpis = KPIS.map(
    ([id, label]) =>
      `<div class="kpi kpi-${id}"><div class="kpi-label">${label}</div><div class="kpi-value" id="kpi-${id}" data-testid="kpi-${id}">–</div><div class="kpi-foot" id="kpi-${id}-foot"></div></div>`,
  ).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>HIVE · Team dashboard</title>
<link rel="icon" href="${FAVICON}">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<header class="topbar">
  <div class="brand"><span class="logo" aria-hidden="true"></span><span class="brand-name">HIVE</span><span class="brand-sub">Team dashboard</span></div>
  <a class="jump" href="#team-title">Team</a>
  <div class="conn" id="conn" data-state="connecting" role="status" aria-live="polite"><span class="conn-dot" aria-hidden="true"></span><span id="conn-text">Connecting…</span></div>
</header>
<div class="banner" id="banner" role="alert" hidden></div>
<main class="layout">
  <section class="impact" aria-labelledby="impact-title">
    <div class="section-head">
      <h1 id="impact-title">Collective Impact</h1>
      <span class="muted" id="updated"></span>
    </div>
    <div class="state-box" id="impact-state" data-state="loading"><span class="spinner" aria-hidden="true"></span><span id="impact-state-text">Loading dashboard…</span></div>
    <div id="impact-body" hidden>
      <div class="kpis">${kpis}</div>
      <div class="note" id="impact-note" hidden></div>
      <div class="card filters-card">
        <div class="card-head"><h2>Filters</h2><button type="button" class="link-button" id="clear-filters" hidden>Clear filters</button></div>
        <div class="filters" id="filters"></div>
      </div>
      <div class="charts">
        <div class="card"><div class="card-head"><h2>By status</h2></div><div id="chart-status"></div></div>
        <div class="card"><div class="card-head"><h2>By priority</h2></div><div id="chart-priority"></div></div>
        <div class="card"><div class="card-head"><h2>By category</h2></div><div id="chart-category"></div></div>
      </div>
${INSIGHTS}
      <div class="card trend-card">
        <div class="card-head"><h2>Created vs completed · last 30 days</h2><div class="legend" id="trend-legend"></div></div>
        <div class="trend" id="trend"><p class="muted">Loading trend…</p></div>
      </div>
    </div>
  </section>
  <aside class="team" aria-labelledby="team-title">
    <div class="section-head"><h1 id="team-title">Team Coordination</h1><span class="count-pill" id="online-count" role="status" hidden></span></div>
    <div class="card">
      <form id="login-form" class="login" autocomplete="on" novalidate>
        <p class="muted">Sign in to see who is online right now.</p>
        <p class="note note-warn" id="login-note" hidden></p>
        <label>Email<input type="email" name="email" id="login-email" autocomplete="username" required></label>
        <label>Password<input type="password" name="password" id="login-password" autocomplete="current-password" required></label>
        <p class="form-error" id="login-error" role="alert" hidden></p>
        <button type="submit" class="primary" id="login-submit">Sign in</button>
      </form>
      <div id="team-body" hidden>
        <div class="me"><span class="muted">Signed in as</span> <strong id="me-name"></strong><button type="button" class="link-button" id="sign-out">Sign out</button></div>
        <h2 class="sub">Online now</h2>
        <ul class="people" id="online-list"></ul>
        <p class="muted" id="online-empty" hidden>Nobody else is online.</p>
        <h2 class="sub">Live activity</h2>
        <ul class="activity" id="activity"></ul>
        <p class="muted" id="activity-empty">Task changes and arrivals appear here as they happen.</p>
      </div>
    </div>
  </aside>
</main>
<noscript><p class="banner">This dashboard needs JavaScript. The API itself is at <a href="/swagger">/swagger</a>.</p></noscript>
</body>
</html>
`;
}
