#!/usr/bin/env bash
# Ships a new version of the Phoenix app: builds the image from infra/app/Dockerfile at one
# commit of the kata app, pushes it to the stack's ECR repository tagged with that commit
# (tags are immutable: a tag already there is not pushed again), then rolls the ECS service by
# updating the stack's AppImageTag parameter with the template already deployed (no `sam build`
# needed). ECS replaces the tasks behind the ALB; the deployment circuit breaker rolls back an
# image that does not start or pass its health checks, and CloudFormation then rolls the stack
# parameter back too, so a bad image never stays.
#
# Needs: docker (with BuildKit), AWS credentials for the stack's account and region (the usual
# AWS_PROFILE / AWS_REGION / environment variables). Python and boto3 come from .venv/sam.
#
# Usage: scripts/push-app.sh COMMIT [--stack NAME] [--no-roll]
#   COMMIT     full 40-hex commit of the kata app repository
#   --stack    CloudFormation stack name (default: $PHOENIX_STACK, else phoenix-ops-dev: samconfig's
#              default environment; the pipelines pass phoenix-ops-staging / phoenix-ops)
#   --no-roll  push only; do not update the stack
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "push-app: $*" >&2; exit 1; }
say() { echo "push-app: $*" >&2; }

commit="" stack="${PHOENIX_STACK:-phoenix-ops-dev}" roll=1
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack=${2:?--stack needs a name}; shift 2 ;;
    --no-roll) roll=0; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) commit=$1; shift ;;
  esac
done
[[ "$commit" =~ ^[0-9a-f]{40}$ ]] || die "give the full 40-hex commit of the kata app (got '${commit}')"
command -v docker >/dev/null || die "docker is needed to build the image"

scripts/setup.sh --sam
py=.venv/sam/bin/python

# aws: small boto3 helper (no AWS CLI needed): outputs | login | has-tag | roll
aws_helper() {
  "$py" - "$@" <<'PY'
import base64, sys, time
import boto3
from botocore.exceptions import ClientError, WaiterError

cmd, stack = sys.argv[1], sys.argv[2]
cfn = boto3.client("cloudformation")

def outputs():
    s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])}, s

if cmd == "repository":
    print(outputs()[0]["AppRepositoryUri"])
elif cmd == "login":
    # prints the password for `docker login --password-stdin`
    token = boto3.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    print(base64.b64decode(token).decode().split(":", 1)[1])
elif cmd == "has-tag":
    repo, tag = sys.argv[3].split("/", 1)[1], sys.argv[4]
    try:
        boto3.client("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
        print("yes")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ImageNotFoundException":
            raise
        print("no")
elif cmd == "roll":
    tag = sys.argv[3]
    out, s = outputs()
    params = []
    previous = {p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters", [])}
    for p in s.get("Parameters", []):
        key = p["ParameterKey"]
        if key == "AppImageTag":
            params.append({"ParameterKey": key, "ParameterValue": tag})
        else:
            params.append({"ParameterKey": key, "UsePreviousValue": True})
    try:
        cfn.update_stack(StackName=stack, UsePreviousTemplate=True, Parameters=params,
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    except ClientError as e:
        if "No updates are to be performed" in str(e):
            print(f"{stack} already runs {tag}", file=sys.stderr)
            sys.exit(0)
        raise
    print(f"{stack}: rolling the service to {tag} (ECS deployment with circuit breaker)...", file=sys.stderr)
    try:
        cfn.get_waiter("stack_update_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 15, "MaxAttempts": 160})
    except WaiterError:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"][:10]
        for ev in events:
            print(f"  {ev['LogicalResourceId']}: {ev['ResourceStatus']} {ev.get('ResourceStatusReason', '')}", file=sys.stderr)
        print(f"{stack}: the new image did not become healthy; the stack rolled back to the previous one", file=sys.stderr)
        sys.exit(1)
    print(f"{stack}: the service runs {tag}", file=sys.stderr)
    # The template leaves the task count to request-scaler once an image exists, and creates the
    # service parked at 0 without one. The first image unparks it, once, at MinTasks; a later push
    # never touches the count (a service a person parked stays parked: unpark it by hand).
    if not previous.get("AppImageTag"):
        ecs = boto3.client("ecs")
        cluster, service = out["ClusterName"], out["ServiceName"]
        desc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        if desc["desiredCount"] == 0:
            count = int(previous.get("MinTasks") or 1)
            ecs.update_service(cluster=cluster, service=service, desiredCount=count)
            print(f"{stack}: first image: the service is unparked at {count} task(s) (MinTasks); "
                  "request-scaler owns the count from now on", file=sys.stderr)
PY
}

repository=$(aws_helper repository "$stack") || die "cannot read the outputs of stack $stack (deployed? credentials? region?)"
image="$repository:$commit"
registry=${repository%%/*}

if [ "$(aws_helper has-tag "$stack" "$repository" "$commit")" = yes ]; then
  say "$image is already in ECR (tags are immutable): not rebuilding"
else
  say "building $image"
  DOCKER_BUILDKIT=1 docker build --platform linux/amd64 --build-arg "PHOENIX_COMMIT=$commit" \
    -t "$image" infra/app
  aws_helper login "$stack" | docker login --username AWS --password-stdin "$registry" >/dev/null
  say "pushing $image"
  docker push "$image"
fi

if [ $roll -eq 1 ]; then
  aws_helper roll "$stack" "$commit"
else
  say "pushed; roll later with: scripts/push-app.sh $commit --stack $stack"
fi
[ $roll -eq 1 ] && say "next: scripts/smoke.sh --stack $stack (the app behind the ALB and the control plane around it)"
exit 0
