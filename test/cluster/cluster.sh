#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tests: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (fake nodes), built from
# pinned Go modules into two binaries (see README.md beside this file).
#
#   cluster.sh build               build the binaries into the cache if missing; print the folder
#   cluster.sh up                  start the cluster (or report the running one); last line: kubeconfig path
#   cluster.sh down                stop the processes this script started; remove the run folder
#   cluster.sh status              show the components; exit 0 when the cluster answers, else 3
#   cluster.sh env                 print `export KUBECONFIG=...`
#   cluster.sh restart-apiserver   kill kube-apiserver and start it again with the same flags, then
#                                  restart the controllers (not with --apiserver-only); waits for both
#   cluster.sh restart-kwok        stop kwok and start it again with the same flags, reading this
#                                  checkout's stages/pods.yaml and log lines (copied into the run folder)
#
# Environment:
#   DEPLOY_SERVICE_CACHE         cache root (default ~/.cache/deploy-service); the binaries go to
#                                $DEPLOY_SERVICE_CACHE/cluster-<key>/, key = hash of the Go sources + go version
#   DEPLOY_SERVICE_CLUSTER_DIR   run folder (default ${TMPDIR:-/tmp}/deploy-service-cluster)
#   CLUSTER_NODES                number of kwok nodes (default 3)
#   CLUSTER_TIMEOUT              seconds to wait for readiness (default 120)
#
# Progress goes to stderr; `up` and `build` print their result on stdout.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${DEPLOY_SERVICE_CACHE:-${HOME:-/root}/.cache/deploy-service}"
RUN_DIR="${DEPLOY_SERVICE_CLUSTER_DIR:-${TMPDIR:-/tmp}/deploy-service-cluster}"
RUN_DIR="${RUN_DIR%/}"
NODES="${CLUSTER_NODES:-3}"
TIMEOUT="${CLUSTER_TIMEOUT:-120}"
KUBECTL="${KUBECTL:-kubectl}"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- build ---

# The Kubernetes version pinned in go.mod, e.g. v1.34.4.
kube_version() { sed -n 's/^[[:space:]]*k8s\.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$SRC_DIR/go.mod" | head -n1; }

# Linker flags: strip symbols, and stamp the Kubernetes version the way the
# upstream release build does (else components report v0.0.0-master).
ldflags() {
	local v major minor flags="-s -w" pkg
	v="$(kube_version)"
	major="${v#v}"
	major="${major%%.*}"
	minor="${v#v*.}"
	minor="${minor%%.*}"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	echo "$flags"
}

version_key() {
	# Everything that decides the binaries' bits: the module files, the Go
	# sources, the linker flags and the toolchain.
	local go_version
	go_version="$(go env GOVERSION 2>/dev/null || echo unknown)"
	{
		echo "$go_version $(go env GOOS GOARCH 2>/dev/null | tr '\n' ' ')"
		ldflags
		cd "$SRC_DIR" && cat go.mod go.sum ./*.go kwok/go.mod kwok/go.sum kwok/*.go
	} | sha256sum | cut -c1-16
}

bin_dir() { echo "$CACHE_ROOT/cluster-$(version_key)"; }

# go_build MODULE_DIR OUTPUT LDFLAGS: a static build of one module's main
# package; the output appears only when the build succeeded.
go_build() {
	local module=$1 out=$2 flags=$3
	log "building $out"
	if ! (cd "$module" && GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false" CGO_ENABLED=0 \
		go build -trimpath -ldflags="$flags" -o "$out.tmp" .) >>"$(dirname "$out")/build.log" 2>&1; then
		tail -n 40 "$(dirname "$out")/build.log" >&2
		rm -f "$out.tmp"
		die "build failed (log: $(dirname "$out")/build.log)"
	fi
	mv "$out.tmp" "$out"
}

cmd_build() {
	command -v go >/dev/null || die "go is not on PATH"
	local dir
	dir="$(bin_dir)"
	if [[ -x "$dir/cluster-bin" && -x "$dir/kwok" ]]; then
		echo "$dir"
		return 0
	fi
	mkdir -p "$dir"
	# One build at a time per version (npm script and test setup may race).
	exec 9>"$dir/.build.lock"
	flock 9
	if [[ ! -x "$dir/cluster-bin" || ! -x "$dir/kwok" ]]; then
		log "first build for this version on this machine: this takes minutes (log: $dir/build.log)"
		local start=$SECONDS
		[[ -x "$dir/cluster-bin" ]] || go_build "$SRC_DIR" "$dir/cluster-bin" "$(ldflags)"
		[[ -x "$dir/kwok" ]] || go_build "$SRC_DIR/kwok" "$dir/kwok" "-s -w"
		log "built in $((SECONDS - start))s"
	fi
	exec 9>&-
	echo "$dir"
}

# ---------------------------------------------------------------- state ---

pid_file() { echo "$RUN_DIR/pids/$1.pid"; }

# is_ours PID: the process is alive and is one of our components of this run
# (its command line names one of our binaries and this run folder), so a pid
# reused by another process is never touched.
is_ours() {
	local pid=$1 cmdline
	[[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
	cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
	[[ ( "$cmdline" == *cluster-bin* || "$cmdline" == */kwok\ * ) && "$cmdline" == *"$RUN_DIR"* ]]
}

component_pid() {
	local f
	f="$(pid_file "$1")"
	[[ -r "$f" ]] && cat "$f"
	return 0
}

component_alive() {
	local pid
	pid="$(component_pid "$1")"
	is_ours "$pid"
}

# stop_components NAME...: SIGTERM to each that is still ours, SIGKILL to
# whatever is left after 3s (kube-apiserver stops listening at once but can
# take longer to exit); only pids this run started are touched.
stop_components() {
	local name pid i
	local -a pids=()
	for name in "$@"; do
		pid="$(component_pid "$name")"
		if is_ours "$pid"; then
			log "stopping $name (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	for ((i = 0; i < 30; i++)); do
		any_left "${pids[@]}" || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		is_ours "$pid" && kill -KILL "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 100; i++)); do
		any_left "${pids[@]}" || break
		sleep 0.1
	done
	for name in "$@"; do
		rm -f "$(pid_file "$name")"
	done
}

any_left() {
	local pid
	for pid in "$@"; do
		is_ours "$pid" && return 0
	done
	return 1
}

# start_component NAME ARGS...: start in its own session, detached from the
# caller, output to logs/NAME.log; the arguments are kept for a restart.
start_component() {
	local name=$1
	shift
	printf '%s\0' "$@" >"$RUN_DIR/args/$name"
	launch "$name"
}

launch() {
	local name=$1 dir
	dir="$(cat "$RUN_DIR/bin")"
	local -a args=()
	mapfile -d '' args <"$RUN_DIR/args/$name"
	# setsid: a Ctrl-C or hang-up of the caller does not reach the cluster;
	# `down` stops it. No fork happens (not a group leader), so $! is the pid.
	# The lock descriptors (8, 9) are not inherited: the lock ends with us.
	if [[ "$name" == kwok ]]; then
		# kwok reads ~/.kwok/kwok.yaml when present: give it an empty home.
		HOME="$RUN_DIR/kwok-home" setsid "$dir/kwok" "${args[@]}" \
			</dev/null >>"$RUN_DIR/logs/$name.log" 2>&1 8>&- 9>&- &
	else
		setsid "$dir/cluster-bin" "$name" "${args[@]}" \
			</dev/null >>"$RUN_DIR/logs/$name.log" 2>&1 8>&- 9>&- &
	fi
	echo $! >"$(pid_file "$name")"
}

kubectl_admin() { "$KUBECTL" --kubeconfig "$RUN_DIR/kubeconfig" "$@"; }

apiserver_ready() { kubectl_admin get --raw=/readyz >/dev/null 2>&1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds; fail
# early when a component died.
wait_for() {
	local what=$1 limit=$2
	shift 2
	local deadline=$((SECONDS + limit)) c
	until "$@"; do
		for c in "${COMPONENTS[@]}"; do
			if [[ -e "$(pid_file "$c")" ]] && ! component_alive "$c"; then
				show_logs "$c"
				die "$c exited while waiting for $what"
			fi
		done
		if ((SECONDS >= deadline)); then
			for c in "${COMPONENTS[@]}"; do show_logs "$c"; done
			die "timed out after ${limit}s waiting for $what"
		fi
		sleep 0.2
	done
}

show_logs() {
	local f="$RUN_DIR/logs/$1.log"
	[[ -s "$f" ]] || return 0
	log "---- last lines of $f"
	tail -n 25 "$f" >&2
}

# cluster_running: every component alive and the apiserver ready.
cluster_running() {
	[[ -d "$RUN_DIR/pids" ]] || return 1
	local c
	for c in "${COMPONENTS[@]}"; do
		component_alive "$c" || return 1
	done
	apiserver_ready
}

# ---------------------------------------------------------------- certs ---

pki() {
	local p="$RUN_DIR/pki"
	mkdir -p "$p"
	# EC P-256 keys: quick to make, accepted by every component.
	openssl ecparam -name prime256v1 -genkey -noout -out "$p/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$p/ca.key" -sha256 -days 30 -subj "/CN=deploy-service-test-ca" \
		-out "$p/ca.crt" 2>/dev/null
	# Service-account token signing key.
	openssl ecparam -name prime256v1 -genkey -noout -out "$p/sa.key" 2>/dev/null
	openssl ec -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null

	# cert NAME SUBJECT [SAN]: a key and a certificate signed by the CA.
	cert() {
		local name=$1 subj=$2 san=${3:-} ext="$p/$1.ext"
		openssl ecparam -name prime256v1 -genkey -noout -out "$p/$name.key" 2>/dev/null
		openssl req -new -key "$p/$name.key" -subj "$subj" -out "$p/$name.csr" 2>/dev/null
		{
			echo "basicConstraints=CA:FALSE"
			echo "keyUsage=critical,digitalSignature,keyEncipherment"
			if [[ -n "$san" ]]; then
				echo "extendedKeyUsage=serverAuth,clientAuth"
				echo "subjectAltName=$san"
			else
				echo "extendedKeyUsage=clientAuth"
			fi
		} >"$ext"
		openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
			-days 30 -sha256 -extfile "$ext" -out "$p/$name.crt" 2>/dev/null
		rm -f "$p/$name.csr" "$ext"
	}
	cert apiserver "/CN=kube-apiserver" \
		"IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
	cert admin "/O=system:masters/CN=admin"
	cert limited "/CN=limited"
	cert controller-manager "/CN=system:kube-controller-manager"
	cert scheduler "/CN=system:kube-scheduler"
	cert kwok "/O=system:masters/CN=kwok"
	cert kwok-serving "/CN=kwok" "IP:127.0.0.1,DNS:localhost"
}

# kubeconfig FILE USER: a kubeconfig for the apiserver with USER's client cert.
write_kubeconfig() {
	local file=$1 user=$2 p="$RUN_DIR/pki"
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: deploy-service-test
  cluster:
    server: https://127.0.0.1:${API_PORT}
    certificate-authority-data: $(base64 -w0 <"$p/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 <"$p/$user.crt")
    client-key-data: $(base64 -w0 <"$p/$user.key")
contexts:
- name: deploy-service-test${3:-}
  context:
    cluster: deploy-service-test
    user: ${user}
    namespace: default
current-context: deploy-service-test${3:-}
EOF
	chmod 600 "$file"
}

# ------------------------------------------------------------------- up ---

write_logs_config() {
	# Container logs served by kwok's kubelet API (kubectl logs). One log for
	# every container; --previous shows a crashed run's log. Log files are in
	# the CRI format a kubelet reads.
	local d="$RUN_DIR/kwok" ts
	mkdir -p "$d"
	ts="$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
	cat >"$d/current.log" <<EOF
$ts stdout F [test-cluster] container started (simulated by kwok: no process runs in this cluster)
$ts stdout F [test-cluster] listening on :8080
EOF
	cat >"$d/previous.log" <<EOF
$ts stdout F [test-cluster] container started (simulated by kwok: no process runs in this cluster)
$ts stderr F [test-cluster] panic: simulated crash: the image name contains "crashloop"
$ts stderr F [test-cluster] exit status 1
EOF
	# Containers named "migrate" (a pre-deploy Job's, say) print lines of their own: kwok chooses a
	# log by pod name, namespace and container name only, never by image or annotation.
	cat >"$d/migrate.log" <<EOF
$ts stdout F [test-cluster] migrate: started (simulated by kwok: no process runs in this cluster)
$ts stdout F [test-cluster] migrate: applying 0001_create_orders
$ts stdout F [test-cluster] migrate: applying 0002_add_orders_index
$ts stderr F [test-cluster] migrate: finished; the image decides the exit code (job-succeeds: 0, job-fails: deploy-service.test/exit-code)
EOF
	cat >"$d/logs.yaml" <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: deploy-service-test-logs
spec:
  logs:
  - logsFile: $d/current.log
    previousLogsFile: $d/previous.log
    follow: false
  - containers: [migrate]
    logsFile: $d/migrate.log
    previousLogsFile: $d/migrate.log
    follow: false
EOF
}

# The pod stages of this checkout, copied into the run folder: the running kwok (and a restart of
# it) never depends on a checkout that may move or go away.
write_stages() {
	mkdir -p "$RUN_DIR/kwok"
	cp "$SRC_DIR/stages/pods.yaml" "$RUN_DIR/kwok/stages.yaml.tmp"
	mv "$RUN_DIR/kwok/stages.yaml.tmp" "$RUN_DIR/kwok/stages.yaml"
}

create_nodes() {
	local i manifest=""
	for ((i = 0; i < NODES; i++)); do
		manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    node-role.kubernetes.io/agent: \"\"
    type: kwok
    topology.kubernetes.io/zone: zone-$((i % 3))
status:
  allocatable: {cpu: \"32\", memory: 256Gi, pods: \"110\", ephemeral-storage: 1Ti}
  capacity: {cpu: \"32\", memory: 256Gi, pods: \"110\", ephemeral-storage: 1Ti}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: fake
    kubeProxyVersion: fake
"
	done
	printf '%s' "$manifest" | kubectl_admin apply -f - >/dev/null
}

nodes_ready() {
	local ready
	ready="$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{range .status.conditions[?(@.type=="Ready")]}{.status}{"\n"}{end}{end}' 2>/dev/null | grep -c '^True$')" || true
	((ready >= NODES))
}

default_sa_exists() { kubectl_admin -n "${1:-default}" get serviceaccount default >/dev/null 2>&1; }

cmd_up() {
	if cluster_running; then
		log "already running (run folder $RUN_DIR)"
		echo "$RUN_DIR/kubeconfig"
		return 0
	fi
	if [[ -e "$RUN_DIR" ]]; then
		log "cleaning up the stale run in $RUN_DIR"
		cmd_down >/dev/null
	fi
	command -v "$KUBECTL" >/dev/null || die "kubectl is not on PATH"
	command -v openssl >/dev/null || die "openssl is not on PATH"
	local dir start=$SECONDS
	dir="$(cmd_build)"

	mkdir -p "$RUN_DIR"/{pids,logs,args,etcd,kwok-home}
	chmod 700 "$RUN_DIR" "$RUN_DIR/etcd"
	echo "$dir" >"$RUN_DIR/bin"

	local ports
	mapfile -t ports < <("$dir/cluster-bin" free-ports 5)
	ETCD_PORT=${ports[0]} ETCD_PEER_PORT=${ports[1]} API_PORT=${ports[2]} KWOK_PORT=${ports[3]}
	local SCHED_PORT=${ports[4]}
	cat >"$RUN_DIR/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KWOK_PORT=$KWOK_PORT
SCHED_PORT=$SCHED_PORT
EOF

	pki
	write_kubeconfig "$RUN_DIR/kubeconfig" admin
	write_kubeconfig "$RUN_DIR/kubeconfig-limited" limited -limited
	write_kubeconfig "$RUN_DIR/controller-manager.kubeconfig" controller-manager
	write_kubeconfig "$RUN_DIR/scheduler.kubeconfig" scheduler
	write_kubeconfig "$RUN_DIR/kwok.kubeconfig" kwok
	write_logs_config
	write_stages
	local p="$RUN_DIR/pki"

	start_component etcd \
		--name=test \
		--data-dir="$RUN_DIR/etcd" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="test=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync=true \
		--snapshot-count=100000 \
		--log-level=warn

	wait_for "etcd on port $ETCD_PORT" "$TIMEOUT" port_open "$ETCD_PORT"

	start_component kube-apiserver \
		--bind-address=127.0.0.1 \
		--advertise-address=127.0.0.1 \
		--secure-port="$API_PORT" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--tls-cert-file="$p/apiserver.crt" \
		--tls-private-key-file="$p/apiserver.key" \
		--client-ca-file="$p/ca.crt" \
		--authorization-mode=Node,RBAC \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$p/sa.pub" \
		--service-account-signing-key-file="$p/sa.key" \
		--service-cluster-ip-range=10.96.0.0/16 \
		--endpoint-reconciler-type=none \
		--kubelet-client-certificate="$p/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$p/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$p/ca.crt" \
		--kubelet-preferred-address-types=InternalIP \
		--allow-privileged=true \
		--profiling=false \
		--v=1

	wait_for "kube-apiserver /readyz" "$TIMEOUT" apiserver_ready
	log "kube-apiserver ready on https://127.0.0.1:$API_PORT ($((SECONDS - start))s)"

	# A long node grace period: kwok (without node leases) writes a node's status only about every ten
	# minutes, and on a loaded 2-core machine later still. With a ten-minute grace the node lifecycle
	# controller marked every fake node NotReady for a few seconds at each of those moments ("all Nodes
	# are not-Ready", seen in its log), and every pod unready with them: a canary analysis running then
	# failed. An hour is far past any heartbeat. (It must still run: it lifts the not-ready taint that new
	# nodes are created with.)
	start_component kube-controller-manager \
		--kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 \
		--secure-port=0 \
		--leader-elect=false \
		--use-service-account-credentials=true \
		--service-account-private-key-file="$p/sa.key" \
		--root-ca-file="$p/ca.crt" \
		--cluster-name=deploy-service-test \
		--controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller,-persistentvolume-attach-detach-controller,-taint-eviction-controller' \
		--node-monitor-grace-period=1h \
		--profiling=false \
		--v=1

	start_component kube-scheduler \
		--kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
		--authentication-kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
		--authorization-kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 \
		--secure-port="$SCHED_PORT" \
		--leader-elect=false \
		--profiling=false \
		--v=1

	start_component kwok \
		--kubeconfig="$RUN_DIR/kwok.kubeconfig" \
		--manage-all-nodes=false \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--node-ip=127.0.0.1 \
		--node-port="$KWOK_PORT" \
		--server-address="127.0.0.1:$KWOK_PORT" \
		--tls-cert-file="$p/kwok-serving.crt" \
		--tls-private-key-file="$p/kwok-serving.key" \
		--cidr=10.244.0.0/16 \
		--config="$RUN_DIR/kwok/stages.yaml" \
		--config="$RUN_DIR/kwok/logs.yaml"

	create_nodes
	wait_for "$NODES kwok nodes Ready" "$TIMEOUT" nodes_ready
	log "$NODES kwok nodes Ready ($((SECONDS - start))s)"
	# Pods can be created in a namespace once the controller manager has made
	# its "default" service account.
	wait_for "the default service account" "$TIMEOUT" default_sa_exists
	log "cluster up in $((SECONDS - start))s; run folder $RUN_DIR"
	log "admin:   export KUBECONFIG=$RUN_DIR/kubeconfig"
	log "limited: $RUN_DIR/kubeconfig-limited (user \"limited\", no RBAC bindings)"
	echo "$RUN_DIR/kubeconfig"
}

# ----------------------------------------------------------------- down ---

cmd_down() {
	if [[ ! -e "$RUN_DIR" ]]; then
		log "not running"
		return 0
	fi
	stop_components "${COMPONENTS[@]}"
	rm -rf "$RUN_DIR"
	log "stopped; removed $RUN_DIR"
}

# --------------------------------------------------------------- status ---

cmd_status() {
	if [[ ! -d "$RUN_DIR/pids" ]]; then
		echo "cluster: not running (no run folder $RUN_DIR)"
		return 3
	fi
	local c pid
	for c in "${COMPONENTS[@]}"; do
		pid="$(component_pid "$c")"
		if is_ours "$pid"; then
			printf '%-24s running (pid %s)\n' "$c" "$pid"
		else
			printf '%-24s stopped\n' "$c"
		fi
	done
	if apiserver_ready; then
		# shellcheck disable=SC1091
		source "$RUN_DIR/ports.env"
		echo "apiserver:               ready at https://127.0.0.1:$API_PORT"
		echo "kubeconfig:              $RUN_DIR/kubeconfig"
		echo "kubeconfig (limited):    $RUN_DIR/kubeconfig-limited"
		kubectl_admin get nodes 2>/dev/null || true
		return 0
	fi
	echo "apiserver:               not ready"
	return 3
}

cmd_env() { echo "export KUBECONFIG=$RUN_DIR/kubeconfig"; }

# restart-apiserver [--apiserver-only]: kill kube-apiserver (SIGTERM, SIGKILL
# after 3 s) and start it again with the same flags, so every open watch and
# connection drops. Then, unless --apiserver-only, restart the controller
# manager, scheduler and kwok too: after a restart client-go's reflectors back
# off for up to a minute (longer after two restarts in a row), which would
# stall every rollout in the tests that run meanwhile. Returns when the
# apiserver is ready and the controllers work again.
cmd_restart_apiserver() {
	[[ -d "$RUN_DIR/pids" ]] || die "not running"
	local start=$SECONDS c
	log "restarting kube-apiserver"
	stop_components kube-apiserver
	launch kube-apiserver
	wait_for "kube-apiserver /readyz" "$TIMEOUT" apiserver_ready
	log "kube-apiserver ready again after $((SECONDS - start))s"
	if [[ "${1:-}" != --apiserver-only ]]; then
		stop_components kube-controller-manager kube-scheduler kwok
		for c in kube-controller-manager kube-scheduler kwok; do launch "$c"; done
		wait_for "the controller manager to work again" "$TIMEOUT" controllers_work
		log "controller manager, scheduler and kwok restarted ($((SECONDS - start))s)"
	fi
}

# restart-kwok: stop kwok only and start it again with the same flags, after
# copying this checkout's stages/pods.yaml and logs config into the run folder,
# so that changed pod stages or log lines take effect. Pods keep their state;
# their next stage runs once kwok is back (a few seconds). Returns when kwok's
# kubelet API answers and the nodes are Ready.
cmd_restart_kwok() {
	[[ -d "$RUN_DIR/pids" ]] || die "not running"
	local start=$SECONDS arg
	local -a args=() fixed=()
	write_stages
	write_logs_config
	# A cluster started before the stages were copied reads them from its checkout: point it at the copy.
	mapfile -d '' args <"$RUN_DIR/args/kwok"
	for arg in "${args[@]}"; do
		if [[ "$arg" == --config=*stages/pods.yaml ]]; then fixed+=("--config=$RUN_DIR/kwok/stages.yaml"); else fixed+=("$arg"); fi
	done
	printf '%s\0' "${fixed[@]}" >"$RUN_DIR/args/kwok"
	log "restarting kwok"
	stop_components kwok
	launch kwok
	# shellcheck disable=SC1091
	source "$RUN_DIR/ports.env"
	wait_for "kwok's kubelet API on port $KWOK_PORT" "$TIMEOUT" port_open "$KWOK_PORT"
	wait_for "$NODES kwok nodes Ready" "$TIMEOUT" nodes_ready
	log "kwok restarted ($((SECONDS - start))s)"
}

# controllers_work: a new namespace gets its service account from the
# controller manager.
controllers_work() {
	local ns="cluster-probe-$$"
	kubectl_admin create namespace "$ns" >/dev/null 2>&1 || true
	if default_sa_exists "$ns"; then
		kubectl_admin delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
		return 0
	fi
	return 1
}

# with_run_lock COMMAND: one up/down/restart at a time per run folder (the
# npm scripts, jest's setup and parallel test files may call at once). The lock
# file sits beside the run folder, which `down` deletes.
with_run_lock() {
	mkdir -p "$(dirname "$RUN_DIR")"
	exec 8>"$RUN_DIR.lock"
	flock 8
	"$@"
}

main() {
	case "${1:-}" in
	build) cmd_build ;;
	up) with_run_lock cmd_up ;;
	down) with_run_lock cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	restart-apiserver) with_run_lock cmd_restart_apiserver "${2:-}" ;;
	restart-kwok) with_run_lock cmd_restart_kwok ;;
	*)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

# All of the file is read before anything runs, so editing it while a long
# build runs cannot change what this run does.
main "$@"
exit $?
