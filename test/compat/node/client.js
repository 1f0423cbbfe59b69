// An AWS SDK for JavaScript client driven by the credd compatibility suite
// (test/compat). It uses the SDK's default credential chain, so with the
// environment that `credd env` prints it gets its credentials from credd.
//
//   node client.js v3|v2 version
//   node client.js v3|v2 calls N [ENDPOINT]      N GetCallerIdentity calls in one process
//   node client.js v3|v2 loop SECONDS [ENDPOINT] one call every 0.5 s until SECONDS pass
//
// ENDPOINT, when given and not empty, is passed as the client's endpoint
// (aws-sdk v2 ignores AWS_ENDPOINT_URL_STS). Every call prints one JSON line:
// {"n":1,"ok":true,"arn":"...","akid":"<access key that signed the call>"}
// or {"n":1,"ok":false,"error":"..."}. `calls` exits 1 if a call failed.
'use strict';

const fs = require('fs');
const path = require('path');

const [sdk, mode, arg, endpoint] = process.argv.slice(2);

function pkgVersion(name) {
  const file = path.join(__dirname, 'node_modules', name, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

// accessKey extracts the access key ID from a SigV4 Authorization header.
function accessKey(auth) {
  const m = /Credential=([^/]+)\//.exec(auth || '');
  return m ? m[1] : '';
}

// newCaller returns an async function making one GetCallerIdentity call and
// returning {arn, akid}.
function newCaller() {
  if (sdk === 'v3') {
    const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
    const client = new STSClient(endpoint ? { endpoint } : {});
    let signedBy = '';
    // The deserialize step runs after signing: the request carries the
    // Authorization header the SDK computed.
    client.middlewareStack.add((next) => async (args) => {
      signedBy = accessKey(args.request.headers.authorization || args.request.headers.Authorization);
      return next(args);
    }, { step: 'deserialize', name: 'creddCompatCapture' });
    return async () => {
      signedBy = '';
      const out = await client.send(new GetCallerIdentityCommand({}));
      return { arn: out.Arn, akid: signedBy };
    };
  }
  if (sdk === 'v2') {
    const AWS = require('aws-sdk');
    const client = new AWS.STS(endpoint ? { endpoint } : {});
    return async () => {
      let signedBy = '';
      const req = client.getCallerIdentity({});
      req.on('send', (resp) => { signedBy = accessKey(resp.request.httpRequest.headers.Authorization); });
      const out = await req.promise();
      return { arn: out.Arn, akid: signedBy };
    };
  }
  throw new Error(`unknown sdk ${sdk}: want v3 or v2`);
}

function errorText(e) {
  return `${e.name || e.code || 'Error'}: ${e.message}`;
}

async function main() {
  if (mode === 'version') {
    const v = sdk === 'v3'
      ? `@aws-sdk/client-sts ${pkgVersion('@aws-sdk/client-sts')}, credential-provider-http ${pkgVersion('@aws-sdk/credential-provider-http')}`
      : `aws-sdk ${pkgVersion('aws-sdk')}`;
    console.log(JSON.stringify({ version: `${v}, Node ${process.versions.node}` }));
    return 0;
  }
  const call = newCaller();
  const one = async (n) => {
    let line;
    try {
      line = { n, ok: true, ...(await call()) };
    } catch (e) {
      line = { n, ok: false, error: errorText(e) };
    }
    console.log(JSON.stringify(line));
    return line.ok;
  };
  if (mode === 'calls') {
    let ok = true;
    for (let n = 1; n <= Number(arg); n++) ok = (await one(n)) && ok;
    return ok ? 0 : 1;
  }
  if (mode === 'loop') {
    const deadline = Date.now() + Number(arg) * 1000;
    for (let n = 1; Date.now() < deadline; n++) {
      await one(n);
      await new Promise((r) => setTimeout(r, 500));
    }
    return 0;
  }
  console.error(`unknown mode ${mode}`);
  return 2;
}

main().then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 2; });
