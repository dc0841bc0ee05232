// Two reports side by side, as the server compares them (/api/compare):
// for their owner, or for whoever holds both share links. Every value is
// put into the page as text.
(async () => {
  const query = new URLSearchParams(location.search);
  const [a, b, shareA, shareB] = ['a', 'b', 'share_a', 'share_b'].map((name) => query.get(name) || '');
  const byLink = shareA && shareB;
  const headers = {};
  if (!byLink) headers.authorization = 'Bearer ' + (await App.requireSession()).access_token;
  const params = new URLSearchParams({ a, b, ...(shareA && { share_a: shareA }), ...(shareB && { share_b: shareB }) });
  let response;
  try {
    response = await fetch(`/api/compare?${params}`, { headers });
  } catch {
    App.$('#summary').textContent = 'The server is not answering. Check your connection and reload.';
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    App.$('#summary').className = 'error';
    App.$('#summary').textContent = response.status === 404
      ? 'These two reports cannot be compared here: open this page signed in as their owner, or with both share links.'
      : (body.error || 'Something went wrong. Reload the page.');
    return;
  }
  const day = (at) => new Date(at).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  const { earlier, later } = body;
  App.$('#title').textContent = `${earlier.name} and ${later.name}`;
  App.$('#summary').textContent = `${body.documents} document${body.documents === 1 ? '' : 's'} in both reports · `
    + `earlier report paid ${day(earlier.paid_at)}, later report paid ${day(later.paid_at)}.`;
  App.$('#verdict-text').textContent = body.verdict;
  App.$('#sample-warning').textContent = body.sample_warning || '';
  const listed = (names) => names.map((n) => `“${n}”`).join(', ');
  App.$('#differing').innerHTML = [
    body.only_earlier.length ? `Only in the earlier report, so not compared: ${listed(body.only_earlier)}.` : '',
    body.only_later.length ? `Only in the later report, so not compared: ${listed(body.only_later)}.` : '',
    body.changed.length ? `The same file with different expected JSON, so not compared: ${listed(body.changed)}.` : '',
  ].filter(Boolean).map((line) => `<li>${App.text(line)}</li>`).join('');
  App.$('#verdict').hidden = false;

  const interval = (pair) => `<br><small class="muted">${App.percent(pair[0])}–${App.percent(pair[1])}</small>`;
  const price = (p) => (p ? App.rates(p.prompt_usd_per_mtok, p.completion_usd_per_mtok) : '–');
  const now = (m) => {
    if (!m.price_now) return '<span class="muted">no longer offered</span>';
    const moved = m.price_then && (m.price_then.prompt_usd_per_mtok !== m.price_now.prompt_usd_per_mtok
      || m.price_then.completion_usd_per_mtok !== m.price_now.completion_usd_per_mtok);
    return App.text(price(m.price_now)) + (moved ? '<br><small class="muted">changed since</small>' : '');
  };
  App.$('#models tbody').innerHTML = body.models.map((m) => {
    const f = m.figures;
    const report = m.report === 'earlier' ? `earlier, ${day(earlier.paid_at)}` : `later, ${day(later.paid_at)}`;
    return `<tr data-model="${App.text(m.model_id)}" data-report="${App.text(m.report)}">
      <td>${App.text(m.label)}<br><small class="muted">${App.text(m.model_id)}</small></td><td>${App.text(report)}</td>
      <td class="num">${App.percent(f.pass_rate)}${interval(f.pass_interval)}</td>
      <td class="num">${App.percent(f.field_accuracy)}${interval(f.field_interval)}</td>
      <td class="num">${App.money(f.cost_per_document_usd)}</td>
      <td class="num">${f.latency_p50_ms === null ? '–' : `${App.text(f.latency_p50_ms)} ms`}<br><small class="muted">n = ${App.text(f.latency_n)}</small></td>
      <td class="num">${App.text(price(m.price_then))}</td><td class="num">${now(m)}</td></tr>`;
  }).join('');
  const link = (report, share) => `/report/${encodeURIComponent(report.id)}${share ? `?share=${encodeURIComponent(share)}` : ''}`;
  const [earlierShare, laterShare] = earlier.id === a ? [shareA, shareB] : [shareB, shareA];
  App.$('#links').innerHTML = `<a href="${App.text(link(earlier, earlierShare))}">The earlier report</a> · `
    + `<a href="${App.text(link(later, laterShare))}">The later report</a>`;
  App.$('#models-panel').hidden = false;
})();
