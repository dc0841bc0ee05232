// The page the emailed link leads to: Auth puts a session in the URL
// fragment (or why the link failed), the Supabase client takes it from
// there, and the visitor chooses a new password.
const landing = new URLSearchParams(location.hash.slice(1));
const refuse = App.refuse;
function explain(error) {
  if (error.code === 'same_password') return 'Choose a password different from your old one.';
  if (error.code === 'weak_password') return 'Choose a stronger password: ' + error.message;
  if (error.status === 401 || error.status === 403) return 'This link has expired. Ask for a new one.';
  return error.message || 'Something went wrong. Try again.';
}
(async () => {
  const supabase = await App.client();
  const { data } = await supabase.auth.getSession();
  App.$('#loading').hidden = true;
  if (landing.has('error') || !data.session) {
    App.$('#invalid').hidden = false;
    return;
  }
  App.$('#account').textContent = `For ${data.session.user.email}.`;
  App.$('#form').hidden = false;
  App.$('#password').focus();
})();
App.$('#form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const password = App.$('#password').value;
  if (password.length < 8) return refuse('Choose a password of at least 8 characters.', '#password');
  if (password !== App.$('#confirm').value) return refuse('The two passwords are not the same.', '#confirm');
  const button = App.$('#submit');
  button.disabled = true; button.textContent = 'Saving…'; refuse('');
  try {
    const supabase = await App.client();
    const { error } = await supabase.auth.updateUser({ password });
    if (error) throw error;
    App.$('#form').hidden = true;
    App.$('#done').hidden = false;
    App.$('#done').focus();
  } catch (e) {
    refuse(App.failure(e, explain), '#password');
    button.disabled = false; button.textContent = 'Save new password';
  }
});
