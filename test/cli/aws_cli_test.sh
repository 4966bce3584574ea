#!/usr/bin/env bash
# The AWS CLI and the Docker CLI against a running Berth, as an ECR user
# would use them:
#   create-repository, docker build (FROM scratch), get-login-password |
#   docker login, docker push, describe-images, docker rmi + pull,
#   batch-delete-image, describe-images again.
#
# Usage: BERTH_ENDPOINT=http://127.0.0.1:5000 \
#        AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... test/cli/aws_cli_test.sh
# The endpoint is Berth's URL (API and registry share it). test/e2e's
# TestECRAWSCLI runs this script against a freshly started Berth.
set -euo pipefail

die() { printf 'aws_cli_test.sh: FAIL: %s\n' "$*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

: "${BERTH_ENDPOINT:?set BERTH_ENDPOINT to the Berth URL, e.g. http://127.0.0.1:5000}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
command -v aws >/dev/null || die "the AWS CLI (aws) is not on PATH"
command -v docker >/dev/null || die "the docker CLI is not on PATH"

host=${BERTH_ENDPOINT#*://}
host=${host%/}
# Only the credentials given here: no profile, no instance metadata, no pager.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECR

work=$(mktemp -d)
export DOCKER_CONFIG="$work/docker-config" DOCKER_BUILDKIT=0
mkdir -p "$DOCKER_CONFIG" "$work/context"
nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
repo="cli/hello-$nonce"
image="$host/$repo:v1"
label="berth-aws-cli-test=$nonce"

ecr() { aws --endpoint-url "$BERTH_ENDPOINT" --region "$AWS_DEFAULT_REGION" ecr "$@"; }

cleanup() {
	status=$?
	docker rmi -f "$image" >/dev/null 2>&1 || true
	ids=$(docker image ls -q --filter "label=$label" 2>/dev/null || true)
	if [ -n "$ids" ]; then
		# shellcheck disable=SC2086
		docker rmi -f $ids >/dev/null 2>&1 || true
	fi
	docker logout "$host" >/dev/null 2>&1 || true
	ecr delete-repository --repository-name "$repo" --force >/dev/null 2>&1 || true
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT

step "aws ecr create-repository $repo"
uri=$(ecr create-repository --repository-name "$repo" --query repository.repositoryUri --output text)
[ "$uri" = "$host/$repo" ] || die "repositoryUri is '$uri', want '$host/$repo'"

step "docker build (FROM scratch)"
printf 'hello from the aws cli test %s\n' "$nonce" >"$work/context/hello.txt"
printf 'FROM scratch\nCOPY hello.txt /hello.txt\n' >"$work/context/Dockerfile"
docker build --force-rm --label "$label" -t "$image" "$work/context"

step "aws ecr get-login-password | docker login --username AWS --password-stdin $host"
ecr get-login-password | docker login --username AWS --password-stdin "$host"

step "docker push $image"
pushed=$(docker push "$image")
printf '%s\n' "$pushed"
digest=$(printf '%s\n' "$pushed" | sed -n 's/^v1: digest: \(sha256:[0-9a-f]\{64\}\) size: [0-9]*$/\1/p')
[ -n "$digest" ] || die "docker push printed no digest"

step "aws ecr describe-images"
listed=$(ecr describe-images --repository-name "$repo" --query 'imageDetails[].imageDigest' --output text)
[ "$listed" = "$digest" ] || die "describe-images lists '$listed', want exactly the pushed $digest"
tagged=$(ecr describe-images --repository-name "$repo" --image-ids imageTag=v1 \
	--query 'imageDetails[0].[imageDigest, join(`,`, imageTags)]' --output text)
[ "$tagged" = "$digest	v1" ] || die "describe-images --image-ids imageTag=v1 says '$tagged', want '$digest	v1'"

step "docker rmi + docker pull"
docker rmi "$image"
if docker image inspect "$image" >/dev/null 2>&1; then die "$image still present after docker rmi"; fi
pulled=$(docker pull "$image")
printf '%s\n' "$pulled"
case "$pulled" in *"$digest"*) ;; *) die "docker pull did not report digest $digest" ;; esac
repodigest=$(docker image inspect --format '{{join .RepoDigests " "}}' "$image")
case " $repodigest " in *" $host/$repo@$digest "*) ;; *) die "pulled image has RepoDigests '$repodigest', want $host/$repo@$digest" ;; esac

step "aws ecr batch-delete-image"
deleted=$(ecr batch-delete-image --repository-name "$repo" --image-ids imageTag=v1 \
	--query '[join(`,`, imageIds[].imageDigest), length(failures)]' --output text)
[ "$deleted" = "$digest	0" ] || die "batch-delete-image answered '$deleted', want '$digest	0' (deleted, no failures)"

step "aws ecr describe-images shows it gone"
count=$(ecr describe-images --repository-name "$repo" --query 'length(imageDetails)' --output text)
[ "$count" = "0" ] || die "describe-images still lists $count images"
if err=$(ecr describe-images --repository-name "$repo" --image-ids "imageDigest=$digest" 2>&1); then
	die "describe-images of the deleted digest succeeded: $err"
fi
case "$err" in *ImageNotFoundException*) ;; *) die "describe-images of the deleted digest: '$err', want ImageNotFoundException" ;; esac

printf '\naws_cli_test.sh: PASS (%s)\n' "$repo"
