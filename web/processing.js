// A paid report while it runs: progress polled once a second, then the report.
const reportId = location.pathname.split('/')[2];
let timer;
async function poll() {
  const supabase = await App.client();
  const { data: report, error } = await supabase.from('reports')
    .select('status, runs_done, runs_planned, cost_spent, status_reason, cut_short, started_at').eq('id', reportId).maybeSingle();
  if (error || !report) { App.$('#detail').textContent = 'This report does not exist or is not yours.'; return stop(); }
  const share = report.runs_planned ? report.runs_done / report.runs_planned : 0;
  App.$('#bar').style.width = Math.round(share * 100) + '%';
  App.$('#progress').setAttribute('aria-valuenow', String(Math.round(share * 100)));
  App.$('#progress').setAttribute('aria-valuetext', `${report.runs_done} of ${report.runs_planned} model calls done`);
  if (report.status === 'paid') {
    App.$('#headline').textContent = 'Starting benchmark…';
  } else if (report.status === 'running') {
    App.$('#headline').textContent = 'Running benchmarks…';
    App.$('#detail').textContent = `${report.runs_done} of ${report.runs_planned} runs done · ${App.money(report.cost_spent)} spent on model calls` + eta(report);
  } else if (report.status === 'complete') {
    App.$('#headline').textContent = 'Benchmark complete!';
    App.$('#detail').textContent = `${report.runs_done} of ${report.runs_planned} runs. Opening your report…`;
    stop();
    setTimeout(() => { location.href = '/report/' + reportId; }, 1500);
  } else if (report.status === 'failed') {
    App.$('#headline').textContent = 'The benchmark could not finish';
    App.$('#reason').innerHTML = `${App.text(report.status_reason)}<br><a href="/">Back to your benchmarks</a>`;
    stop();
  }
}
// Time left, from the pace so far (said once a few calls have finished).
function eta(report) {
  if (!report.started_at || report.runs_done < 2 || report.runs_done >= report.runs_planned) return '';
  const elapsed = (Date.now() - new Date(report.started_at).getTime()) / 1000;
  const left = Math.max(1, Math.round(elapsed / report.runs_done * (report.runs_planned - report.runs_done)));
  return ` · about ${left < 90 ? left + ' s' : Math.round(left / 60) + ' min'} left`;
}
function stop() { clearInterval(timer); timer = undefined; }
(async () => {
  await App.requireSession();
  await poll();
  // Once a second: one small row read, so progress moves while calls finish.
  if (!timer) timer = setInterval(poll, 1000);
})();
// Stop polling when the page goes away.
addEventListener('pagehide', stop);
