# An AWS SDK for Ruby (aws-sdk-core) client driven by the credd
# compatibility suite (test/compat): Aws::STS::Client with the SDK's default
# credential chain (lib/aws-sdk-core/credential_provider_chain.rb).
#
#   ruby client.rb version
#   ruby client.rb calls N ENDPOINT   N GetCallerIdentity calls in one process
#
# Every call prints one JSON line:
# {"n":1,"ok":true,"arn":"...","akid":"<access key that signed the call>"}
# or {"n":1,"ok":false,"error":"..."}. `calls` exits 1 if a call failed.
require 'json'
require 'aws-sdk-core'

if ARGV == ['version']
  puts JSON.generate(version: "aws-sdk-core #{Aws::CORE_GEM_VERSION}, Ruby #{RUBY_VERSION}")
  exit 0
end
unless ARGV.length == 3 && ARGV[0] == 'calls'
  warn 'usage: ruby client.rb version | calls N ENDPOINT'
  exit 2
end

n = Integer(ARGV[1])
endpoint = ARGV[2]
client = nil
ok = true
(1..n).each do |i|
  line =
    begin
      # Made on first use: the chain runs when the client is made, and a
      # failure there is a failed call.
      client ||= Aws::STS::Client.new(region: 'us-east-1', endpoint: endpoint)
      resp = client.get_caller_identity
      auth = resp.context.http_request.headers['authorization'].to_s
      { n: i, ok: true, arn: resp.arn, akid: auth[%r{Credential=([^/]+)/}, 1].to_s }
    rescue StandardError => e
      { n: i, ok: false, error: "#{e.class}: #{e.message}" }
    end
  puts JSON.generate(line)
  $stdout.flush
  ok &&= line[:ok]
end
exit(ok ? 0 : 1)
