// Signing in, then back to the page that asked (on this site only).
App.$('#form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = App.$('#submit');
  button.disabled = true; button.textContent = 'Signing in…'; App.$('#error').textContent = '';
  for (const input of document.querySelectorAll('#form input')) input.removeAttribute('aria-invalid');
  try {
    const supabase = await App.client();
    const { error } = await supabase.auth.signInWithPassword({ email: App.$('#email').value, password: App.$('#password').value });
    if (error) throw error.status === 400 ? new Error('That email and password do not match.') : error;
    location.href = App.nextPage(new URLSearchParams(location.search).get('next'));
  } catch (e) {
    App.$('#error').textContent = App.failure(e);
    for (const input of document.querySelectorAll('#form input')) input.setAttribute('aria-invalid', 'true');
    button.disabled = false; button.textContent = 'Sign in';
    App.$('#email').focus();
  }
});
(async () => { const supabase = await App.client(); await supabase.auth.signOut({ scope: 'local' }); })();
if (new URLSearchParams(location.search).get('deleted') === '1') App.$('#deleted').hidden = false;
