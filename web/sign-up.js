// Creating an account, with Auth's refusals in words next to the field.
// Auth's own words for what went wrong, as a sentence the visitor can act on.
function explain(error) {
  if (error.code === 'user_already_exists' || /already registered/i.test(error.message)) return 'An account with this email already exists. Sign in instead.';
  if (error.code === 'weak_password') return 'Choose a stronger password: ' + error.message;
  if (error.code === 'validation_failed' || error.code === 'email_address_invalid') return 'That does not look like an email address.';
  if (error.status === 429) return 'Too many attempts. Wait a minute and try again.';
  return error.message || 'Something went wrong. Try again.';
}
const refuse = App.refuse;
App.$('#form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const email = App.$('#email').value.trim(), password = App.$('#password').value;
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) return refuse('Enter your email address.', '#email');
  if (password.length < 8) return refuse('Choose a password of at least 8 characters.', '#password');
  if (password !== App.$('#confirm').value) return refuse('The two passwords are not the same.', '#confirm');
  const button = App.$('#submit');
  button.disabled = true; button.textContent = 'Creating your account…'; refuse('');
  try {
    const supabase = await App.client();
    const { data, error } = await supabase.auth.signUp({ email, password });
    if (error) throw error;
    if (!data.session) {
      refuse('Check your inbox: we sent a link to confirm ' + email + '.');
      button.textContent = 'Create account';
      return;
    }
    location.href = '/';
  } catch (e) {
    refuse(App.failure(e, explain),
      e.code === 'weak_password' ? '#password' : '#email');
    button.disabled = false; button.textContent = 'Create account';
  }
});
