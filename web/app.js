// Shared by the pages: the Supabase client (configured by the sidecar's
// /config.json), the session, and small helpers.
const App = (() => {
  let clientPromise, configPromise;
  function config() {
    configPromise ||= fetch('/config.json').then((response) => {
      if (!response.ok) throw new Error('The server is not answering; try again in a minute.');
      return response.json();
    });
    return configPromise;
  }
  function client() {
    clientPromise ||= config().then((c) =>
      window.supabase.createClient(c.supabaseUrl, c.supabaseAnonKey, {
        auth: { persistSession: true, autoRefreshToken: true },
      }));
    return clientPromise;
  }
  async function session() {
    const supabase = await client();
    const { data } = await supabase.auth.getSession();
    return data.session;
  }
  async function requireSession() {
    const current = await session();
    if (!current) {
      location.href = '/sign-in?next=' + encodeURIComponent(location.pathname + location.search);
      return new Promise(() => {});
    }
    return current;
  }
  // Where to go after signing in: a page of this site, whatever the link
  // says (`//evil.com`, `/\evil.com`, `/%09/evil.com`, `https:evil.com` and
  // the like all resolve to another origin and give `/`).
  // The page to go to after signing in: `raw` resolved against this origin,
  // returned whole (href) only when the URL as built is ours. Returning its
  // path instead would let dot segments ("/.//evil.example") collapse into
  // a protocol-relative URL that leaves the site.
  function nextPage(raw) {
    if (!raw) return '/';
    try {
      const url = new URL(raw, location.origin);
      return url.origin === location.origin && /^https?:$/.test(url.protocol) ? url.href : '/';
    } catch {
      return '/';
    }
  }
  // Of a draft's image paths, the files uploaded into this draft: the only
  // ones deleting the draft (or a document of it) may delete. A re-run's
  // documents are its earlier report's files, and the database keeps any
  // file a report uses until that report's images are deleted.
  function filesOfDraft(paths, userId, draftId) {
    return paths.filter((path) => path.startsWith(`${userId}/${draftId}/`));
  }
  // Starts Stripe Checkout for a ready draft: the page to go to, or an
  // Error whose message the customer can act on.
  async function checkout(draftId) {
    const current = await requireSession();
    let response;
    try {
      response = await fetch('/api/checkout', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + current.access_token },
        body: JSON.stringify({ draftId }),
      });
    } catch {
      throw new Error(NOT_ANSWERING);
    }
    const body = await response.json().catch(() => ({}));
    if (response.ok) return body.url;
    const messages = { 401: 'Your session has ended. Sign in again to pay.', 404: 'This draft is not yours.',
      409: 'This benchmark is already paid for.', 422: body.error };
    const ours = response.status >= 500
      ? `We could not start the payment${body.retry ? '. Try again in a minute' : '. We have been told and are on it'}`
        + (body.request_id ? ` (reference ${body.request_id}).` : '.')
      : null;
    throw new Error(messages[response.status] || ours || body.error || 'Something went wrong. Try again.');
  }
  // What one report costs, as the server charges it ({cents, currency, text}).
  async function price() {
    return (await config()).price;
  }
  // A form's refusal in words (#error), the field at fault marked and
  // focused; no field: every mark cleared. An empty message clears it.
  function refuse(message, field) {
    $('#error').textContent = message;
    for (const input of document.querySelectorAll('#form input')) input.removeAttribute('aria-invalid');
    if (field) { $(field).setAttribute('aria-invalid', 'true'); $(field).focus(); }
  }
  // Days a finished report keeps its document images before they are deleted.
  async function imageRetentionDays() {
    return (await config()).imageRetentionDays;
  }
  const percent = (n) => (n === null || n === undefined ? '–' : (Number(n) * 100).toFixed(1) + '%');
  const text = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const $ = (selector) => document.querySelector(selector);
  // "Sign out" only for someone signed in (a share link's visitor is not).
  addEventListener('DOMContentLoaded', async () => {
    const link = document.querySelector('#sign-out');
    if (link) link.hidden = !(await session().catch(() => null));
  });
  // What a form says when its request failed: the server not answering
  // (the browser could not reach it: fetch's TypeError, or Auth's client
  // saying so in its own error), or what `explain` makes of the error.
  const NOT_ANSWERING = 'The server is not answering. Check your connection and try again.';
  function failure(e, explain = (error) => error.message) {
    const unreachable = e instanceof TypeError || e?.name === 'AuthRetryableFetchError' || !e?.message;
    return unreachable ? NOT_ANSWERING : explain(e);
  }

  return { client, session, requireSession, nextPage, filesOfDraft, checkout, price, imageRetentionDays, refuse, failure, money: (n) => money(n), rates: (p, c) => rates(p, c), percent, text, $ };
})();
