// Asking Auth to mail a link for choosing a new password. The page says the
// same thing whether or not the address has an account (and when a link
// went to it less than a minute ago), so it tells nobody who is a customer.
App.$('#form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const email = App.$('#email').value.trim();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) return App.refuse('Enter your email address.', '#email');
  const button = App.$('#submit');
  button.disabled = true; button.textContent = 'Sending…'; App.refuse('');
  try {
    const supabase = await App.client();
    const { error: refused } = await supabase.auth.resetPasswordForEmail(email, { redirectTo: `${location.origin}/reset-password` });
    if (refused && refused.status !== 429) throw refused;
    App.$('#form').hidden = true;
    const sent = App.$('#sent');
    sent.textContent = `If ${email} has an account, a link to choose a new password is on its way. ` +
      'It works once, for one hour. Nothing there? Check your spam folder, or ask again in a minute.';
    sent.hidden = false;
    sent.focus();
  } catch (e) {
    App.refuse(App.failure(e));
    button.disabled = false; button.textContent = 'Send me a link';
  }
});
