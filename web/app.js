// Shared by the pages: the Supabase client (configured by the sidecar's
// /config.json), the session, and small helpers.
const App = (() => {
  let clientPromise;
  async function config() {
    const response = await fetch('/config.json');
    if (!response.ok) throw new Error('The server is not answering; try again in a minute.');
    return response.json();
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
  function nextPage(raw) {
    if (!raw) return '/';
    try {
      const url = new URL(raw, location.origin);
      return url.origin === location.origin ? url.pathname + url.search + url.hash : '/';
    } catch {
      return '/';
    }
  }
  const money = (n) => '$' + Number(n || 0).toFixed(Number(n) < 0.1 ? 4 : 2);
  const percent = (n) => (n === null || n === undefined ? '–' : (Number(n) * 100).toFixed(1) + '%');
  const text = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const $ = (selector) => document.querySelector(selector);
  return { client, session, requireSession, nextPage, money, percent, text, $ };
})();
