// For the owner of a finished report: an email when a newly offered model
// could change its pick (set_report_watch), at most one a week; and the
// link that email carries (`?again=<model ids>`), which opens a re-run
// draft with those models and the report's pick already chosen. Nothing
// runs, and nothing is charged, until the owner pays for that draft.
const Watch = (() => {
  const MODEL_ID = /^[\w.-]+\/[\w.:-]+$/;

  // The models the link names, each once, in its order (at most nine: with
  // the pick, the ten a draft may hold).
  function named(param) {
    return [...new Set((param || '').split(',').filter((id) => MODEL_ID.test(id)))].slice(0, 9);
  }

  async function rerunWith(report, supabase, ids) {
    const { data: draft, error } = await supabase.rpc('draft_from_report', { p_report_id: report.id });
    if (error) return error.message;
    const pick = report.figures?.models?.[0]?.model_id;
    const models = [...new Set([pick, ...ids].filter(Boolean))];
    const { error: refused } = await supabase.from('benchmark_drafts').update({ selected_models: models }).eq('id', draft);
    if (refused) return refused.message;
    location.replace(`/benchmark/new?draft=${encodeURIComponent(draft)}#step-3`);
    return null;
  }

  async function show(report, supabase) {
    const box = App.$('#watch');
    const note = App.$('#watch-note');
    const say = () => {
      note.textContent = box.checked
        ? 'We email you when a model offered from now on could change this report\'s pick: its name and prices, and a link to run these documents on it. At most one email a week; nothing runs unless you pay.'
        : '';
    };
    box.checked = Boolean(report.watching);
    box.disabled = report.status !== 'complete';
    say();
    box.addEventListener('change', async () => {
      box.disabled = true;
      const { data, error } = await supabase.rpc('set_report_watch', { p_report_id: report.id, p_on: box.checked });
      if (error) {
        box.checked = !box.checked;
        note.textContent = error.message;
      } else {
        box.checked = data;
        say();
      }
      box.disabled = false;
    });
    const ids = named(new URLSearchParams(location.search).get('again'));
    if (ids.length) {
      App.$('#rerun').disabled = true;
      App.$('#rerun-error').textContent = (await rerunWith(report, supabase, ids)) || '';
      App.$('#rerun').disabled = false;
    }
  }

  return { show, named };
})();
