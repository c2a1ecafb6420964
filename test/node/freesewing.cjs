// Replays the FreeSewing seed's example request (shared/seeds/003_*) as
// written there, with only the base URL and the token substituted.
// Usage: node freesewing.cjs <baseURL> <login token>
const axios = require('axios');
const [base, token] = process.argv.slice(2);

(async () => {
  const apiKey = axios.post(
    base + '/apikeys/jwt',
    {
      name: 'My first API key',
      level: 2, // Read only
      expiresIn: 3600, // One hour
    },
    {
      headers: {
        Authorization: `Bearer ${token}`
      }
    }
  )
  const res = await apiKey.then((r) => ({ status: r.status, data: r.data }),
    (e) => ({ status: e.response ? e.response.status : 0, data: e.response ? e.response.data : String(e) }));
  console.log(JSON.stringify(res));
})();
