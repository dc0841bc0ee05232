// Scoring a finished report again with corrected expected JSON
// (rescore_report): its owner takes the models' value for a doubted field
// in one click, the engine scores the answers the report already holds
// (no model is called, nothing is charged), and the page shows the new
// version once it is stored.
const Rescore = (() => {
  // `expected` with `value` at `path` (keys, and row numbers from 0); null
  // when the path does not lead into it.
  function put(expected, path, value) {
    const copy = structuredClone(expected);
    let at = copy;
    for (const step of path.slice(0, -1)) {
      if (at === null || typeof at !== 'object' || !(step in at)) return null;
      at = at[step];
    }
    if (at === null || typeof at !== 'object') return null;
    at[path[path.length - 1]] = value;
    return copy;
  }

  // The corrected expected JSON of each document the doubts name, by its
  // key: every doubt of a document applied to what the report expects now.
  function corrections(doubts, documents) {
    const now = Object.fromEntries((documents || []).map((d) => [d.key, d.expected]));
    const out = {};
    for (const d of doubts) {
      const steps = Array.isArray(d.path) && d.path.length && d.path.every((s) => typeof s !== 'object');
      const base = out[d.document_key] ?? now[d.document_key];
      if (!steps || !base) continue;
      const next = put(base, d.path, d.consensus);
      if (next) out[d.document_key] = next;
    }
    return out;
  }

  const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  // Asks for the new scoring and waits (two minutes at most) for the
  // engine to store it, then shows it.
  async function submit(supabase, report, expected, status) {
    if (!Object.keys(expected).length) return;
    status.textContent = 'Scoring again from the answers this report holds. No model is called.';
    const { data, error } = await supabase.rpc('rescore_report', { p_report_id: report.id, p_expected: expected });
    if (error) {
      status.textContent = `Not scored again: ${error.message}`;
      return;
    }
    for (let i = 0; i < 120 && data.pending; i += 1) {
      await pause(1000);
      const { data: now } = await supabase.rpc('read_report', { p_report_id: report.id });
      if (now && !now.scoring.pending && now.scoring.version >= data.version) break;
    }
    location.reload();
  }

  // The earlier version the page was asked for (`?version=<n>`), read
  // through read_report_scoring; null for the current one.
  async function earlier(supabase, report, shareToken) {
    const version = Number(new URLSearchParams(location.search).get('version'));
    if (!Number.isInteger(version) || version < 1 || version >= (report.scoring?.version || 1)) return null;
    const { data } = await supabase.rpc('read_report_scoring',
      { p_report_id: report.id, p_version: version, p_share_token: shareToken });
    return data;
  }

  // A link to a version of this report, keeping its share token.
  function link(version) {
    const params = new URLSearchParams(location.search);
    params.delete('version');
    if (version) params.set('version', version);
    const query = params.toString();
    return `${location.pathname}${query ? `?${query}` : ''}`;
  }

  // What the page says of the scoring it shows, in HTML: which version,
  // and links to the others.
  function describe(scoring, shown) {
    if (!scoring) return '';
    if (shown) {
      return `You are looking at version ${App.text(shown.version)}, scored on ${new Date(shown.scored_at).toLocaleDateString()}`
        + ` and replaced on ${new Date(shown.superseded_at).toLocaleDateString()} when the expected JSON was corrected;`
        + ` the differences per document are not shown for it. <a href="${App.text(link(null))}">See the current version (${App.text(scoring.version)})</a>.`;
    }
    if (scoring.pending) return 'Being scored again with your corrected expected JSON: reload in a minute.';
    if (scoring.version <= 1) return '';
    const others = (scoring.earlier || []).map((e) => `<a href="${App.text(link(e.version))}">version ${App.text(e.version)}${e.version === 1 ? ' (as paid for)' : ''}</a>`);
    return `Scored again on ${new Date(scoring.rescored_at).toLocaleDateString()} with your corrected expected JSON:`
      + ` version ${App.text(scoring.version)}. No model was called again.`
      + (others.length ? ` Earlier: ${others.join(', ')}.` : '');
  }

  return { corrections, submit, describe, earlier };
})();
