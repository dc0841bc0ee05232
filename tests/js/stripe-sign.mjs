// Prints a Stripe-Signature header for the payload on stdin, made by the
// official stripe package: node stripe-sign.mjs <whsec_secret> [unix seconds]
import Stripe from 'stripe';

const [secret, timestamp] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const payload = Buffer.concat(chunks).toString('utf8');
const stripe = new Stripe('sk_test_unused_for_signing');
const header = stripe.webhooks.generateTestHeaderString({
  payload,
  secret,
  ...(timestamp ? { timestamp: Number(timestamp) } : {}),
});
process.stdout.write(header);
