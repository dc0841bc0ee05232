// The wizard's page: its form is never submitted (each step saves itself).
document.querySelector('#wizard').addEventListener('submit', (event) => event.preventDefault());
Wizard.start();
