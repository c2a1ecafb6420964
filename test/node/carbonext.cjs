// Replays the Carbonext seed's three example requests (shared/seeds/000_*),
// as written there, with only the base URL, token, customer id and ids
// substituted. Prints each response's status and data as one JSON object.
// Usage: node carbonext.cjs <baseURL> <token> <customerId> <permissionId1> <permissionId2>
var axios = require('axios');
var qs = require('qs');
const [base, token, customerId, perm1, perm2] = process.argv.slice(2);
const out = {};
const call = (config) => axios(config).then((r) => ({ status: r.status, data: r.data }),
  (e) => ({ status: e.response ? e.response.status : 0, data: e.response ? e.response.data : String(e) }));

(async () => {
  // Application [POST]
  var data = JSON.stringify({
    "clientId": "myapp_name",
    "displayName": "My test app",
    "permissions": [
      {
          "id": perm1
      },
      {
          "id": perm2
      }
    ]
  });
  var config = {
    method: 'post',
    url: base + '/v1/customers/applications?customer-id=' + customerId,
    headers: {
      'Authorization': 'Bearer ' + token,
      'Content-Type': 'application/json'
    },
    data : data
  };
  out.create = await call(config);

  // List Applications [GET], as the example request and with the BASE URL's paging.
  var data = qs.stringify({

  });
  var config = {
    method: 'get',
    url: base + '/v1/customers/applications',
    headers: {
      'Authorization': 'Bearer ' + token
    },
    data : data
  };
  out.list = await call(config);
  config.url = base + '/v1/customers/applications?page=2&page-size=10';
  out.listPage2 = await call(config);

  // Fetch an API [GET]
  var config = {
    method: 'get',
    url: base + '/v1/customers/applications/' + (out.create.data && out.create.data.id),
    headers: {
      'Authorization': 'Bearer ' + token
    }
  };
  out.fetch = await call(config);
  console.log(JSON.stringify(out));
})();
