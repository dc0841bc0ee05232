// The report page: the verdict, the ranking with its intervals, the field
// map, the chart, each document with every model's answer, and how the
// report was run; for its owner, or anyone with its share link. Every value
// from the report goes into the page through App.text (escaped), however
// it was stored.

// Field accuracy (y) against total cost (x): axes with values, the scale
// stated, and the same figures as a table for screen readers.
function drawChart(models) {
  const w = Math.max(300, Math.min(560, App.$('#chart').clientWidth || 560)), h = 300;
  const left = 52, right = 20, top = 16, bottom = 58;
  const costs = models.map((m) => Math.max(Number(m.cost), 1e-6));
  const accuracies = models.map((m) => Number(m.fields || 0));
  const [lo, hi] = [Math.min(...costs), Math.max(...costs)];
  const log = hi / lo > 10;
  const share = (c) => hi === lo ? 0.5 : log ? (Math.log(c) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) : (c - lo) / (hi - lo);
  const x = (c) => left + 20 + share(c) * (w - left - right - 40);
  const floor = Math.max(0, Math.floor((Math.min(...accuracies) - 0.05) * 10) / 10);
  const y = (a) => top + 12 + (1 - (a - floor) / (1 - floor || 1)) * (h - top - bottom - 12);
  const step = (1 - floor) > 0.5 ? 0.2 : 0.1;
  const yTicks = []; for (let t = floor; t <= 1.0001; t += step) yTicks.push(Math.round(t * 100) / 100);
  const xTicks = hi === lo ? [lo] : log ? [lo, Math.sqrt(lo * hi), hi] : [lo, (lo + hi) / 2, hi];
  const axis = '#a8a29e';
  App.$('#chart').innerHTML = `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-labelledby="chart-title">
    <title id="chart-title">Field accuracy against total cost per model; the table below gives the same figures.</title>
    <line x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}" stroke="${axis}"/>
    <line x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}" stroke="${axis}"/>
    ${yTicks.map((t) => `<line x1="${left - 4}" x2="${left}" y1="${y(t)}" y2="${y(t)}" stroke="${axis}"/><text x="${left - 8}" y="${y(t) + 4}" text-anchor="end">${Math.round(t * 100)}%</text>`).join('')}
    ${xTicks.map((c) => `<line x1="${x(c)}" x2="${x(c)}" y1="${h - bottom}" y2="${h - bottom + 4}" stroke="${axis}"/><text x="${x(c)}" y="${h - bottom + 18}" text-anchor="middle">${App.money(c)}</text>`).join('')}
    <text x="${(left + w - right) / 2}" y="${h - 10}" text-anchor="middle">total cost of model calls${log ? ' (log scale)' : ''}, cheaper ←</text>
    <text x="${left}" y="${top - 4}">field accuracy${models.some((m) => m.frontier) ? '; ringed: best value (none both more accurate and cheaper)' : ''}</text>
    ${models.map((m, i) => `<circle cx="${x(costs[i])}" cy="${y(accuracies[i])}" r="6" fill="#fbbf77"${m.frontier ? ' stroke="#7c2d12" stroke-width="2.5" class="frontier"' : ''}/>
      <text x="${x(costs[i]) > w * 0.6 ? x(costs[i]) - 10 : x(costs[i]) + 10}" text-anchor="${x(costs[i]) > w * 0.6 ? 'end' : 'start'}"
        y="${y(accuracies[i]) + 4 + (i % 2 ? 14 : 0)}">${App.text(m.model_id.split('/').pop())}</text>`).join('')}</svg>
    <div class="visually-hidden"><table><caption>Field accuracy and total cost per model</caption><tr><th>Model</th><th>Field accuracy</th><th>Total cost</th><th>Best value</th></tr>
    ${models.map((m) => `<tr><td>${App.text(m.model_id)}</td><td>${App.percent(m.fields)}</td><td>${App.money(m.cost)}</td><td>${m.frontier ? 'yes' : 'no'}</td></tr>`).join('')}</table></div>`;
}

// Why a model's documents were not read right, from figures version 3.
const FAILURE_WORDS = [['format', 'not JSON of the asked shape'], ['extraction', 'wrong values'],
  ['provider', 'no answer from the provider'], ['unavailable', 'refused by the data policy']];
function failed(failures) {
  const parts = FAILURE_WORDS.filter(([kind]) => failures?.[kind]).map(([kind, words]) => `${failures[kind]} ${words}`);
  return parts.length ? `<br><small class="muted failures">Not right: ${App.text(parts.join(', '))}</small>` : '';
}

// A model of a report with a JSON Schema that does not take one was asked
// for a JSON object in the prompt only: the engine sends it no schema.
function promptOnly(report, model) {
  return Boolean(report.json_schema) && model?.prices?.supports_json_schema === false;
}

// Label doubts (figures version 3): where every model that answered read
// the same value, and not the expected one. The owner of a finished report
// takes the models' value in one click, and the report is scored again.
function showDoubts(report, supabase) {
  const doubts = report.figures?.label_doubts;
  if (!doubts?.length) return;
  const names = Object.fromEntries((report.documents || []).map((d) => [d.key, `document ${d.index + 1} (${d.name})`]));
  const shown = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
  const canFix = report.owner && report.status === 'complete' && !report.scoring?.pending;
  App.$('#doubt-list').innerHTML = doubts.map((d, i) => {
    const who = d.models.length === 2 ? 'Both models' : `All ${d.models.length} models`;
    const where = names[d.document_key] ?? 'a document';
    const fix = canFix && Object.keys(Rescore.corrections([d], report.documents)).length
      ? ` <button type="button" class="secondary rescore" data-doubt="${i}">Use ${App.text(shown(d.consensus))} and score again</button>` : '';
    return `<li>${who} read <code>${App.text(d.field)}</code> of ${App.text(where)} as <strong>${App.text(shown(d.consensus))}</strong>; you expected <strong>${App.text(shown(d.expected))}</strong>.${fix}</li>`;
  }).join('');
  const all = App.$('#rescore-all');
  all.hidden = !canFix || doubts.length < 2;
  App.$('#doubts').hidden = false;
  const status = App.$('#rescore-status');
  const fix = (chosen) => {
    document.querySelectorAll('#doubts button').forEach((b) => { b.disabled = true; });
    Rescore.submit(supabase, report, Rescore.corrections(chosen, report.documents), status);
  };
  App.$('#doubt-list').addEventListener('click', (event) => {
    const button = event.target.closest('button.rescore');
    if (button) fix([doubts[Number(button.dataset.doubt)]]);
  });
  all.addEventListener('click', () => fix(doubts));
}

// Differences in words: "items › row 2 › unit_price: expected 24.95, the model said 24.59".
const Explain = (() => {
  // The server says where a difference is, in words.
  const where = (d) => d.where;
  const value = (v) => {
    if (v === undefined || v === null) return 'null';
    if (typeof v === 'string') return `“${v}”`;
    if (Array.isArray(v)) return `a list of ${v.length}`;
    if (typeof v === 'object') return Object.entries(v).slice(0, 3).map(([k, x]) => `${k} ${typeof x === 'object' && x !== null ? '…' : value(x)}`).join(', ');
    return String(v);
  };
  const sentence = (d) => d.kind === 'missing' ? `${where(d)}: missing (expected ${value(d.expected)})`
    : d.kind === 'extra' ? `${where(d)}: not asked for (the model gave ${value(d.actual)})`
    : d.kind === 'unreadable' ? `the answer could not be scored: ${d.note}`
    : `${where(d)}: expected ${value(d.expected)}, the model said ${value(d.actual)}`;
  return { sentence };
})();

// Whether a difference makes the field-map row's field wrong, as the
// figures say: it costs a field, and is at one the row lists.
function costs(d, row) {
  const at = JSON.stringify(d.field);
  return d.costs_field && row.costed_by.some((field) => JSON.stringify(field) === at);
}

// Each document: its image (for its owner), and every model, in the
// ranking's order, with its differences in words and its full answer.
// The documents' images: the owner's signed in the page under Storage's
// rules; a link holder's signed by the server, only when the owner shares
// them.
async function documentImages(report, supabase) {
  if (report.images_deleted_at) return [];
  if (report.owner) {
    const { data } = await supabase.from('reports').select('image_paths').eq('id', report.id).maybeSingle();
    const paths = data?.image_paths || [];
    return paths.length ? (await supabase.storage.from('benchmark-images').createSignedUrls(paths, 3600)).data || [] : [];
  }
  if (!report.share_images) return [];
  const response = await fetch(`/api/reports/${encodeURIComponent(report.id)}/images?share=${encodeURIComponent(shareToken)}`).catch(() => null);
  const body = response?.ok ? await response.json() : { images: [] };
  const images = [];
  for (const image of body.images) images[image.index] = { signedUrl: image.url };
  return images;
}

// For the owner: run the documents again, compare with the reports that
// share them, and choose whether link holders see the images.
async function showAgain(report, supabase, price) {
  if (!report.owner) return;
  App.$('#again').hidden = false;
  App.$('#again [data-price]').textContent = price;
  await Watch.show(report, supabase);
  App.$('#rerun').addEventListener('click', async () => {
    App.$('#rerun').disabled = true;
    App.$('#rerun-error').textContent = '';
    const { data, error } = await supabase.rpc('draft_from_report', { p_report_id: report.id });
    if (error) {
      App.$('#rerun-error').textContent = error.message;
      App.$('#rerun').disabled = false;
      return;
    }
    location.href = `/benchmark/new?draft=${encodeURIComponent(data)}#step-3`;
  });
  const source = 'config_snapshot->config_data->source_report->>id';
  const [{ data: self }, { data: reruns }] = await Promise.all([
    supabase.from('reports').select(`source:${source}`).eq('id', report.id).maybeSingle(),
    supabase.from('reports').select('id, paid_at, name:config_snapshot->config_data->>name').eq(source, report.id).order('paid_at'),
  ]);
  const compare = (a, b) => `/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
  App.$('#comparisons').innerHTML = [
    self?.source ? `<li><a href="${App.text(compare(self.source, report.id))}">Compare with the report these documents came from</a></li>` : '',
    ...(reruns || []).map((r) => `<li><a href="${App.text(compare(report.id, r.id))}">Compare with “${App.text(r.name || 'its re-run')}”, paid ${App.text(new Date(r.paid_at).toLocaleDateString())}</a></li>`),
  ].join('');
  const toggle = App.$('#share-images');
  toggle.checked = Boolean(report.share_images);
  const say = () => {
    App.$('#share-images-note').textContent = toggle.checked
      ? 'Anyone with the share link sees the document images too, through links that work for ten minutes.'
      : 'The share link shows results only, never the document images.';
  };
  say();
  const deleted = () => {
    App.$('#delete-images').hidden = true;
    App.$('#share-images').disabled = true;
    App.$('#images-kept').textContent = '';
    App.$('#delete-images-note').textContent = `This report's document images were deleted on ${new Date(report.images_deleted_at).toLocaleDateString()}; its results stay.`;
  };
  if (report.images_deleted_at) deleted();
  else if (report.status !== 'complete' && report.status !== 'failed') App.$('#delete-images').disabled = true;
  else if (report.finished_at) {
    const days = await App.imageRetentionDays();
    const until = new Date(Date.parse(report.finished_at) + days * 86_400_000);
    App.$('#images-kept').textContent = `The document images are deleted on ${until.toLocaleDateString()}, ${days} days after the report finished; its results stay. You may delete them sooner.`;
  }
  App.$('#delete-images').addEventListener('click', async () => {
    if (!confirm('Delete this report\'s document images for good? Its results stay; its images, on this page and through its share link, do not, and it can no longer be run again.')) return;
    App.$('#delete-images').disabled = true;
    const { data: paths, error } = await supabase.rpc('delete_report_images', { p_report_id: report.id });
    const removed = error ? null : paths.length ? await supabase.storage.from('benchmark-images').remove(paths) : { error: null };
    if (error || removed.error) {
      App.$('#delete-images-error').textContent = `Not deleted: ${(error || removed.error).message}`;
      App.$('#delete-images').disabled = false;
      return;
    }
    report.images_deleted_at = new Date().toISOString();
    deleted();
    document.querySelectorAll('#diffs img').forEach((img) => img.remove());
  });
  toggle.addEventListener('change', async () => {
    const { error } = await supabase.rpc('set_report_image_sharing', { p_report_id: report.id, p_on: toggle.checked });
    if (error) { toggle.checked = !toggle.checked; App.$('#share-images-note').textContent = `Not changed: ${error.message}`; return; }
    say();
  });
}

// What one answer came to, in a few words.
function runVerdict(run) {
  const differences = run.field_diffs.filter((d) => d.kind !== 'note').length;
  return run.passed ? 'every field right' : run.unavailable ? 'not run: no endpoint of this model meets the privacy policy'
    : run.error ? `the call failed: ${run.error}` : `${differences} difference${differences === 1 ? '' : 's'}`;
}

// How alike a model's answers were when each document was asked more than
// once (figures' repeats and unstable_fields).
function sameEachTime(figure) {
  const repeats = figure.repeats;
  if (!repeats) return '<small class="muted">asked once</small>';
  const unstable = figure.unstable_fields || [];
  return `${App.percent(repeats.agreement)} of fields<br><small class="muted">all ${App.text(repeats.k)} answers right on ${App.percent(repeats.all_pass_rate)} of documents`
    + (unstable.length ? `; changed: ${unstable.map((f) => `<code>${App.text(f)}</code>`).join(', ')}` : '') + '</small>';
}

async function showDocuments(report, runs, order, results, supabase) {
  const images = await documentImages(report, supabase);
  const display = Object.fromEntries((report.models || []).map((m) => [m.id, m.display_name]));
  const answer = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text || ''; } };
  App.$('#diffs').innerHTML = report.documents.map(({ name, index, pages = 1, first_page: first = index }) => {
    const all = runs.filter((r) => r.image_index === index);
    const mine = all.filter((r) => !r.repeat).sort((a, b) => order.indexOf(a.model_id) - order.indexOf(b.model_id));
    const later = (r) => all.filter((o) => o.model_id === r.model_id && o.repeat > 0).sort((a, b) => a.repeat - b.repeat);
    const result = results[index];
    const number = App.text(Number(index) + 1);
    return `<details class="document"><summary>Document ${number}: ${App.text(name)}${pages > 1 ? ` (${pages} pages)` : ''}${result ? ` <span class="muted">· ${App.text(result.right)} of ${App.text(result.of)} models entirely right</span>` : ''}</summary>
      ${images.slice(first, first + pages).map((image, page) => image?.signedUrl
        ? `<img class="document-image" loading="lazy" alt="Document ${number}, ${App.text(name)}${pages > 1 ? `, page ${page + 1} of ${pages}` : ''}" src="${App.text(image.signedUrl)}">` : '').join('')}
      ${mine.map((r) => {
        const notes = r.field_diffs.filter((d) => d.kind === 'note');
        const differences = r.field_diffs.filter((d) => d.kind !== 'note');
        const verdict = runVerdict(r);
        return `<h3>${App.text(display[r.model_id] || r.model_id)} <span class="${r.passed ? 'pass' : 'fail'}">${App.text(verdict)}</span>
          ${notes.map((d) => `<span class="muted">(${App.text(d.note)})</span>`).join(' ')}</h3>
          ${!r.error && differences.length ? `<ul class="differences">${differences.map((d) => `<li>${App.text(Explain.sentence(d))}</li>`).join('')}</ul>` : ''}
          ${r.output_json ? `<details><summary>${App.text(display[r.model_id] || r.model_id)}'s full answer</summary><pre>${App.text(answer(r.output_json))}</pre></details>` : ''}
          ${later(r).length ? `<p class="muted repeats">Asked again: ${later(r).map((o) => `answer ${App.text(o.repeat + 1)}, ${App.text(runVerdict(o))}`).join('; ')}.</p>
            ${later(r).filter((o) => o.output_json).map((o) => `<details><summary>Answer ${App.text(o.repeat + 1)} in full</summary><pre>${App.text(answer(o.output_json))}</pre></details>`).join('')}` : ''}`;
      }).join('')}</details>`;
  }).join('');
}

// When, with what, and the downloads: every run as CSV, the report as JSON.
function describeRun(report, runs) {
  const models = (report.models || []).map((m) => `${m.display_name} (${App.rates(m.prices?.prompt_usd_per_mtok, m.prices?.completion_usd_per_mtok)} per million tokens in / out${promptOnly(report, m) ? '; it takes no JSON Schema, so it was asked for a JSON object in the prompt only, without the schema' : ''})`);
  App.$('#run-meta').textContent = `Run on ${new Date(report.started_at || report.created_at).toLocaleString()} · ${report.documents.length} documents · `
    + `models at the prices of that day: ${models.join('; ')}. Scored by the policy below (How we score).`
    + (report.how_sent ? ` Every model was sent the same image of each document, upright, at most ${Number(report.how_sent.max_side_px).toLocaleString('en-US')} px on its long edge and ${Number(report.how_sent.max_image_bytes) / 1048576} MiB,`
      + (report.how_sent.zero_retention ? ' and only to provider endpoints that keep nothing at all (zero data retention, as asked).'
        : ' and only to provider endpoints that neither keep nor train on what they receive.') : '');
  App.$('#run-prompt').textContent = report.prompt || '';
  App.$('#run-schema').textContent = report.json_schema ? JSON.stringify(report.json_schema, null, 2) : 'No JSON Schema.';
  const names = Object.fromEntries(report.documents.map((d) => [d.index, d.name]));
  const csv = csvTable([['document', 'model', 'answer_number', 'passed', 'fields_matched', 'fields_total', 'cost_usd', 'latency_ms', 'error', 'answer']]
    .concat(runs.map((r) => [names[r.image_index], r.model_id, Number(r.repeat || 0) + 1, r.passed, r.fields_matched, r.fields_total, r.cost, r.response_time_ms, r.error, r.output_json])));
  const download = (name, type, text) => {
    const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([text], { type })), download: name });
    link.click(); setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };
  const base = (report.name || 'report').replace(/[^\w-]+/g, '-').toLowerCase();
  App.$('#export-csv').addEventListener('click', () => download(`${base}-runs.csv`, 'text/csv', csv));
  // Runs name their document as the report does (by its number and name).
  const named = runs.map(({ image_index: index, ...run }) => ({ document: index + 1, document_name: names[index], ...run }));
  App.$('#export-json').addEventListener('click', () => download(`${base}.json`, 'application/json', JSON.stringify({ ...report, runs: named }, null, 2)));
}

const reportId = location.pathname.split('/')[2];
const shareToken = new URLSearchParams(location.search).get('share');
(async () => {
  if (!shareToken) await App.requireSession();
  const supabase = await App.client();
  const args = { p_report_id: reportId, p_share_token: shareToken };
  const [{ data: report }, { data: runs }] = await Promise.all([
    supabase.rpc('read_report', args),
    supabase.rpc('read_report_runs', args),
  ]);
  if (!report) { App.$('#summary').textContent = 'This report does not exist, or this link does not open it.'; return; }
  App.$('#title').textContent = report.name || 'Your report';
  const shown = await Rescore.earlier(supabase, report, shareToken);
  if (shown) {
    report.figures = shown.figures;
    report.scoring.pending = true; // no correction from an earlier version
  }
  const figures = report.figures;
  const price = (await App.price()).text;
  // The figures, computed once as the report finished (or, for a report
  // finished before they were kept, when an engine next started), best
  // first. The page shows them; it computes none.
  const rows = (figures?.models || []).map((f) => ({
    model_id: f.model_id, name: f.display_name, pass: f.pass_rate, passInterval: f.pass_interval,
    fields: f.field_accuracy, fieldInterval: f.field_interval, cost: f.cost_usd, per1000: f.cost_per_1000_usd,
    median: f.latency_p50_ms, n: f.latency_n, p95: f.latency_p95_ms,
    // Figures version 3 and later.
    perCorrect: f.cost_per_correct_document, failures: f.failures, frontier: (figures.pareto || []).includes(f.model_id),
    figure: f,
  }));
  const repeated = rows.some((m) => m.figure.repeats);
  const withValue = (figures?.version || 0) >= 3;
  App.$('#summary').innerHTML = `${App.text(report.runs_done)} of ${App.text(report.runs_planned)} runs · the model calls cost ${App.money(report.cost_spent)} in all`
    + (report.cut_short || report.status === 'failed' ? `<br>${App.text(report.status_reason)}` : '')
    + (report.refunded_at ? `<br><strong id="refund">Your ${App.text(price)} payment was refunded on ${new Date(report.refunded_at).toLocaleDateString()}.</strong>`
      : report.owner && report.status === 'failed' ? `<br><strong id="refund">Your ${App.text(price)} payment is being refunded.</strong>`
      : report.amount_refunded ? `<br><strong id="refund">${App.money(report.amount_refunded / 100)} of your ${App.text(price)} payment was refunded.</strong>` : '')
    + (report.owner && report.share_token ? `<br>Share: <code id="share-link">${App.text(`${location.origin}/report/${report.id}?share=${report.share_token}`)}</code>
      <button type="button" class="secondary" id="copy-share">Copy link</button>
      <br><small>Anyone with this link sees the results (models, scores, costs, documents' differences), not who paid${report.share_images ? ', and the document images' : ''}.</small>` : '');
  const scoring = Rescore.describe(report.scoring, shown);
  if (scoring) App.$('#summary').innerHTML += `<br><span id="scoring">${scoring}</span>`;
  if (!figures) {
    App.$('#summary').innerHTML += '<br><span id="no-figures">This report\'s figures are not ready yet: they are computed as it finishes. Reload in a minute.</span>';
  }
  if (figures?.unavailable?.length) {
    App.$('#summary').innerHTML += `<br><span id="unavailable">Not ranked: ${figures.unavailable.map((m) => App.text(m.display_name)).join(', ')}.`
      + ` No endpoint of ${figures.unavailable.length === 1 ? 'this model' : 'these models'} would read your documents without keeping or training on them, so ${figures.unavailable.length === 1 ? 'it was' : 'they were'} not run and cost nothing.</span>`;
  }
  document.querySelectorAll('.loaded').forEach((panel) => { panel.hidden = false; });
  // An earlier version's figures, without the current answers' differences.
  if (shown) App.$('#diffs').closest('section').hidden = true;
  App.$('#copy-share')?.addEventListener('click', async () => {
    await navigator.clipboard.writeText(App.$('#share-link').textContent).catch(() => {});
    App.$('#copy-share').textContent = 'Copied';
  });
  const interval = (pair) => pair ? `<br><small class="muted">${App.percent(pair[0])}–${App.percent(pair[1])}</small>` : '';
  const small = (text) => `<br><small class="muted">${text}</small>`;
  App.$('#per-correct-head').hidden = !withValue;
  App.$('#repeats-head').hidden = !repeated;
  const byId = Object.fromEntries((report.models || []).map((m) => [m.id, m]));
  App.$('#ranking tbody').innerHTML = rows.map((m) => {
    const p95 = m.p95 !== null && m.p95 !== undefined ? `${App.text(m.p95)} ms`
      : `<small class="muted">needs ${App.text(figures.min_calls_for_p95)} calls (n = ${App.text(m.n)})</small>`;
    const perCorrect = !withValue ? ''
      : `<td class="num">${m.perCorrect ? App.money(m.perCorrect) : '<small class="muted">none read right</small>'}</td>`;
    return `<tr data-model="${App.text(m.model_id)}">
    <td>${App.text(m.name)}${small(App.text(m.model_id))}${promptOnly(report, byId[m.model_id]) ? small('takes no JSON Schema: asked for JSON in the prompt only') : ''}${m.frontier ? small('<span class="frontier">Best value: no model is both more accurate and cheaper</span>') : ''}</td>
    <td class="num">${App.percent(m.pass)}${interval(m.passInterval)}${withValue ? failed(m.failures) : ''}</td><td class="num">${App.percent(m.fields)}${interval(m.fieldInterval)}</td>
    <td class="num">${App.money(m.cost)}${small(`${App.money(m.per1000)} per 1,000 docs`)}</td>${perCorrect}${repeated ? `<td class="num">${sameEachTime(m.figure)}</td>` : ''}<td class="num">${App.text(m.median ?? '–')} ms${small(`n = ${App.text(m.n)}`)}</td><td class="num">${p95}</td></tr>`;
  }).join('');
  if (figures) showDoubts(report, supabase);
  if (figures) {
    const showVerdict = () => { App.$('#verdict-text').textContent = figures.verdicts[document.querySelector('input[name="priority"]:checked').value]; };
    document.querySelectorAll('input[name="priority"]').forEach((r) => r.addEventListener('change', showVerdict));
    showVerdict();
    App.$('#sample-warning').textContent = figures.sample_warning || '';
    App.$('#verdict').hidden = false;
    const names = figures.models.map((m) => m.display_name);
    App.$('#field-map thead').innerHTML = `<tr><th scope="col">Field</th>${names.map((n) => `<th scope="col" class="num">${App.text(n)}</th>`).join('')}</tr>`;
    App.$('#field-map tbody').innerHTML = figures.fields.map((f, i) => `<tr><th scope="row"><code>${App.text(f.label)}</code></th>${f.right.map((r, m) =>
      `<td class="num ${r === f.of ? 'pass' : r === 0 ? 'fail' : ''}">${r === f.of ? `${App.text(r)} of ${App.text(f.of)}`
        : `<button type="button" class="cell" data-field="${i}" data-model="${m}" aria-label="${App.text(f.label)}, ${App.text(figures.models[m].display_name)}: ${App.text(r)} of ${App.text(f.of)} right; show where it went wrong">${App.text(r)} of ${App.text(f.of)}</button>`}</td>`).join('')}</tr>`).join('');
    App.$('#field-map-panel').hidden = !figures.fields.length;
    App.$('#field-map').addEventListener('click', (event) => {
      const button = event.target.closest('button.cell');
      if (!button || shown) return;
      const field = figures.fields[Number(button.dataset.field)], model = figures.models[Number(button.dataset.model)];
      const names = Object.fromEntries(report.documents.map((d) => [d.index, `Document ${d.index + 1} (${d.name})`]));
      // The field map counts each model's first answers.
      const wrong = (runs || []).filter((r) => r.model_id === model.model_id && !r.repeat).flatMap((r) => {
        if (r.error) return [`${names[r.image_index]}: the call failed (${r.error}).`];
        return r.field_diffs.filter((d) => costs(d, field))
          .map((d) => `${names[r.image_index]}: ${Explain.sentence(d)}`);
      });
      App.$('#field-examples').innerHTML = `<h3>${App.text(model.display_name)} on <code>${App.text(field.label)}</code></h3>
        <ul>${wrong.map((w) => `<li>${App.text(w)}</li>`).join('')}</ul>`;
      App.$('#field-examples').hidden = false;
      App.$('#field-examples').focus();
    });
  }
  if (rows.length) drawChart(rows);
  describeRun(report, runs || []);
  await Promise.all([
    showAgain(report, supabase, price),
    showDocuments(report, runs || [], rows.map((m) => m.model_id), figures?.document_results || [], supabase),
  ]);
})();
