// Your benchmarks: drafts to resume or delete, and reports.
const supabaseReady = (async () => { await App.requireSession(); return App.client(); })();

async function deleteDraft(draft) {
  if (!confirm(`Delete "${draft.config_data.name || 'Untitled draft'}" and its images?`)) return;
  const supabase = await supabaseReady;
  const { user } = await App.requireSession();
  // Every page of every document (a document saved before pages existed
  // is its own one page).
  const pages = (draft.upload_data.images || []).flatMap((i) => (i.pages || [i]).map((p) => p.path));
  const paths = App.filesOfDraft(pages, user.id, draft.id);
  const { error } = await supabase.from('benchmark_drafts').delete().eq('id', draft.id);
  if (error) { App.$('#draft-error').textContent = `Not deleted: ${error.message}`; return; }
  if (paths.length) await supabase.storage.from('benchmark-images').remove(paths);
  await // Your account: your data as one file, or the account deleted.
async function accountRequest(method, path) {
  const current = await App.requireSession();
  const response = await fetch(path, { method, headers: { authorization: 'Bearer ' + current.access_token } });
  const body = method === 'GET' && response.ok ? await response.blob() : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || 'Something went wrong. Try again in a minute.');
  return body;
}

App.$('#export-account').addEventListener('click', async () => {
  const status = App.$('#account-status');
  status.textContent = 'Preparing your data…';
  try {
    const file = await accountRequest('GET', '/api/account/export');
    const link = document.createElement('a');
    link.href = URL.createObjectURL(file);
    link.download = `modelpick-export-${new Date().toISOString().slice(0, 10)}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    status.textContent = 'Your data is downloaded.';
  } catch (error) {
    status.textContent = error.message;
  }
});

App.$('#delete-account').addEventListener('click', async () => {
  if (!confirm('Delete your account, with every draft, report and image? This cannot be undone. Your payments stay on record for bookkeeping, without your name.')) return;
  const status = App.$('#account-status');
  status.textContent = 'Deleting your account…';
  try {
    await accountRequest('DELETE', '/api/account');
    await (await App.client()).auth.signOut({ scope: 'local' });
    location.href = '/sign-in?deleted=1';
  } catch (error) {
    status.textContent = error.message;
  }
});
load();
}

async function load() {
  const supabase = await supabaseReady;
  const [drafts, reports] = await Promise.all([
    supabase.from('benchmark_drafts').select('id, status, config_data, upload_data, updated_at').neq('status', 'paid').order('updated_at', { ascending: false }),
    supabase.from('reports').select('id, status, config_snapshot, created_at, runs_done, runs_planned').order('created_at', { ascending: false }),
  ]);
  const open = drafts.data || [];
  App.$('#drafts').className = open.length ? '' : 'muted';
  App.$('#drafts').innerHTML = open.map((d, i) => `<p><a href="/benchmark/new?draft=${encodeURIComponent(d.id)}">${App.text(d.config_data.name || 'Untitled draft')}</a>
    <span class="muted">${(d.upload_data.images || []).length} documents · ${App.text(d.status)} · saved ${new Date(d.updated_at).toLocaleString()}</span>
    <button type="button" class="secondary" data-delete="${i}" aria-label="Delete ${App.text(d.config_data.name || 'Untitled draft')}">Delete</button></p>`).join('')
    || 'No drafts. <a href="/benchmark/new">Create your first benchmark</a>: a few documents, the JSON each should give, the models to compare.';
  App.$('#drafts').querySelectorAll('[data-delete]').forEach((b) => b.addEventListener('click', () => deleteDraft(open[Number(b.dataset.delete)])));
  const done = (r) => r.status === 'complete' || r.status === 'failed';
  App.$('#reports').innerHTML = (reports.data || []).map((r) =>
    `<p><a href="${done(r) ? `/report/${encodeURIComponent(r.id)}` : `/benchmark/${encodeURIComponent(r.id)}/processing`}">${App.text(r.config_snapshot?.config_data?.name || 'Report')} · ${new Date(r.created_at).toLocaleString()}</a>
      <span class="muted">${App.text(r.status)}, ${App.text(r.runs_done)} of ${App.text(r.runs_planned)} runs</span></p>`).join('') || 'No reports yet.';
}
// Your account: your data as one file, or the account deleted.
async function accountRequest(method, path) {
  const current = await App.requireSession();
  const response = await fetch(path, { method, headers: { authorization: 'Bearer ' + current.access_token } });
  const body = method === 'GET' && response.ok ? await response.blob() : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || 'Something went wrong. Try again in a minute.');
  return body;
}

App.$('#export-account').addEventListener('click', async () => {
  const status = App.$('#account-status');
  status.textContent = 'Preparing your data…';
  try {
    const file = await accountRequest('GET', '/api/account/export');
    const link = document.createElement('a');
    link.href = URL.createObjectURL(file);
    link.download = `modelpick-export-${new Date().toISOString().slice(0, 10)}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    status.textContent = 'Your data is downloaded.';
  } catch (error) {
    status.textContent = error.message;
  }
});

App.$('#delete-account').addEventListener('click', async () => {
  if (!confirm('Delete your account, with every draft, report and image? This cannot be undone. Your payments stay on record for bookkeeping, without your name.')) return;
  const status = App.$('#account-status');
  status.textContent = 'Deleting your account…';
  try {
    await accountRequest('DELETE', '/api/account');
    await (await App.client()).auth.signOut({ scope: 'local' });
    location.href = '/sign-in?deleted=1';
  } catch (error) {
    status.textContent = error.message;
  }
});
load();
