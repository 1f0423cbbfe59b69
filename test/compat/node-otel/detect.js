// OpenTelemetry's ECS resource detector for Node (awsEcsDetector, from
// @opentelemetry/resource-detector-aws), run as the Node SDK runs a
// detector: through detectResources from @opentelemetry/resources. Prints
// the detected attributes as one JSON object, key → value, on stdout.
// The compatibility suite (test/compat/otel_test.go) points it at an ECS
// task metadata endpoint through the environment.
//
//   node detect.js
//
// What the detector reads (src/detectors/AwsEcsDetector.ts; the published
// node_modules/@opentelemetry/resource-detector-aws/dist/detectors/AwsEcsDetector.cjs):
//   - ECS_CONTAINER_METADATA_URI_V4 and ECS_CONTAINER_METADATA_URI: with
//     neither set it detects nothing. The v3 one is only tested for being
//     set; everything it fetches comes from the v4 one, GET $V4 (the
//     container) and GET $V4/task at once, each with a 1 s socket timeout;
//     a status of 400 or more fails.
//   - os.hostname() for container.name (not the metadata's container Name).
//   - /proc/self/cgroup for container.id: the id of a line ending
//     /ecs/<task>/<id>, else a line's last path segment of 32 to 64 hex
//     digits, else the last 64 characters of a longer line. Outside ECS it
//     may so take another cgroup's id, or find none and leave it out.
// Any error while gathering (a failed GET, a body that is not JSON, an ARN
// it cannot parse) is swallowed and the detector returns no attributes at
// all, so an empty result is this script's failure: exit 1, with what
// the two URLs answer when asked again, and OpenTelemetry's warnings.
'use strict';

const http = require('http');
const util = require('util');
const { diag, DiagLogLevel } = require('@opentelemetry/api');
const { detectResources } = require('@opentelemetry/resources');
const { awsEcsDetector } = require('@opentelemetry/resource-detector-aws');

// OpenTelemetry's warnings and errors, kept for a failure's message.
const diagnostics = [];
const keep = (level) => (message, ...args) => diagnostics.push(`${level}: ${util.format(message, ...args)}`);
diag.setLogger(
  { error: keep('error'), warn: keep('warn'), info: keep('info'), debug: keep('debug'), verbose: keep('verbose') },
  DiagLogLevel.WARN,
);

function fail(message) {
  process.stderr.write(`detect.js: ${message}\n`);
  for (const line of diagnostics) {
    // When the detector gave up, every attribute it announced is
    // undefined and dropped: those lines say nothing more.
    if (!line.startsWith('warn: dropping invalid resource attribute value')) {
      process.stderr.write(`  opentelemetry ${line}\n`);
    }
  }
  process.exit(1);
}

// describe GETs url as the detector does (AwsEcsDetector._getUrlAsJson)
// and says what came back, since the detector does not.
function describe(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => {
        let json = 'a JSON body';
        try { JSON.parse(body); } catch (e) { json = `a body that is not JSON (${e.message})`; }
        resolve(`GET ${url}: ${res.statusCode} ${res.statusMessage}, ${json}`);
      });
    });
    req.setTimeout(1000, () => req.destroy(new Error('no answer within 1 s, the detector\'s timeout')));
    req.on('error', (e) => resolve(`GET ${url}: ${e.message}`));
  });
}

async function main() {
  const v4 = process.env.ECS_CONTAINER_METADATA_URI_V4;
  if (!v4 && !process.env.ECS_CONTAINER_METADATA_URI) {
    fail('the detector found no ECS environment: set ECS_CONTAINER_METADATA_URI_V4 (and ECS_CONTAINER_METADATA_URI) to the task metadata endpoint');
  }
  const resource = detectResources({ detectors: [awsEcsDetector] });
  // The detector's attribute values are promises of one gathering.
  if (typeof resource.waitForAsyncAttributes === 'function') {
    await resource.waitForAsyncAttributes();
  }
  const attributes = resource.attributes;
  if (attributes['cloud.provider'] !== 'aws') {
    const seen = v4 ? await Promise.all([describe(v4), describe(`${v4}/task`)]) : [];
    fail('awsEcsDetector detected nothing: it drops every error (a failed GET, a body that is not JSON, ' +
      'a TaskARN or ContainerARN that is not arn:aws:ecs:REGION:ACCOUNT:...) and returns no attributes. ' +
      'Both URLs must answer 200 with the task metadata v4 JSON; asked again:\n  ' + seen.join('\n  '));
  }
  process.stdout.write(`${JSON.stringify(attributes)}\n`);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
