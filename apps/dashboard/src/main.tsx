/**
 * The fleet at a glance: the hosts (status, cpus, guests), the network driver
 * and the generation it runs (with `froctal up --network`), each service's
 * target and ready count with sparklines of its load and replicas, its
 * instances (phase, host, load, devices, config generation; the first 50 rows,
 * the rest counted), the rollout in flight, and
 * the manager's decisions with their reasons, newest first. Live from one
 * stream (live.ts); nothing here polls or reloads.
 */
import { render } from "preact";
import { type Live, type Sample, useLive } from "./live.js";
import type { HostRow, JournalLine, RolloutView, ServiceCard } from "./snapshot.js";
import { Sparkline } from "./sparkline.js";
import "./style.css";

function App() {
  const live = useLive();
  const s = live.snapshot;
  return (
    <main>
      <header>
        <h1>{s === null ? "froctal" : `froctal · ${s.fleet}`}</h1>
        <span class={live.connected ? "state live" : "state down"} data-testid="connection">
          {live.connected ? "live" : "reconnecting…"}
        </span>
        {s !== null && <span class="gen">config generation {s.generation}</span>}
        {s?.network != null && (
          <span class="gen" data-testid="network">
            network: {s.network.driver}, generation {s.network.generation}
          </span>
        )}
      </header>
      {s === null ? (
        <p>Waiting for the manager…</p>
      ) : (
        <>
          <Hosts hosts={s.hosts} />
          <section class="services">
            {s.services.map((svc) => (
              <Service key={svc.name} svc={svc} samples={live.history.get(svc.name) ?? []} />
            ))}
          </section>
          <Rollout rollout={s.rollout} last={s.lastRollout} />
          <Timeline live={live} />
        </>
      )}
    </main>
  );
}

function Service(props: { readonly svc: ServiceCard; readonly samples: readonly Sample[] }) {
  const { svc, samples } = props;
  const phases = Object.entries(svc.phases)
    .map(([phase, n]) => `${n} ${phase}`)
    .join(" · ");
  return (
    <article class="service" data-service={svc.name}>
      <h2>{svc.name}</h2>
      <div class="replicas">
        <span data-testid={`ready-${svc.name}`}>{svc.ready}</span> ready of{" "}
        <span data-testid={`target-${svc.name}`}>{svc.target}</span> wanted
      </div>
      <div class="why" title="the policy's last recommendation">
        recommends {svc.recommended}: {svc.why}
      </div>
      {svc.failure !== null && <div class="failure">failed: {svc.failure}</div>}
      <div class="sparks">
        <figure>
          load {svc.load === null ? "–" : svc.load.toFixed(1)}
          <Sparkline values={samples.map((p) => p.load)} label={`${svc.name} load`} />
        </figure>
        <figure>
          ready
          <Sparkline values={samples.map((p) => p.ready)} label={`${svc.name} ready replicas`} />
        </figure>
      </div>
      <div class="phases">{phases || "no instances"}</div>
      <table>
        <thead>
          <tr>
            <th>instance</th>
            <th>phase</th>
            <th>host</th>
            <th>load</th>
            <th>devices</th>
            <th>gen</th>
          </tr>
        </thead>
        <tbody>
          {svc.instances.map((i) => (
            <tr key={i.id} data-instance={i.id}>
              <td>
                {i.id}
                {i.connected ? "" : " (no session)"}
              </td>
              <td class={`phase ${i.phase}`}>{i.phase}</td>
              <td class="host">{i.host ?? "–"}</td>
              <td>{i.load === null ? "–" : i.load.toFixed(1)}</td>
              <td>{i.devices}</td>
              <td>{i.generation}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {svc.hidden > 0 && <div class="more">and {svc.hidden} more instances (counted above, not listed)</div>}
    </article>
  );
}

/** One line of hosts; none when the manager runs without them. */
function Hosts(props: { readonly hosts: readonly HostRow[] }) {
  if (props.hosts.length === 0) return null;
  return (
    <section class="hosts" data-testid="hosts">
      <h2>Hosts</h2>
      {props.hosts.map((h) => (
        <span key={h.id} class="host-chip" data-host={h.id}>
          <b>{h.id}</b> <span class={`host-status ${h.status}`}>{h.status}</span> {h.cpus} cpus · {h.guests} guests
        </span>
      ))}
    </section>
  );
}

function Rollout(props: { readonly rollout: RolloutView | null; readonly last: string | null }) {
  const r = props.rollout;
  const names = (list: readonly string[], count: number) =>
    count === 0 ? "none" : `${list.join(", ")}${count > list.length ? ` and ${count - list.length} more` : ""}`;
  return (
    <section class="rollout" data-testid="rollout">
      <h2>Rollout</h2>
      {r === null ? (
        <p>None in flight.</p>
      ) : (
        <p>
          Generation {r.generation} {r.phase} on {r.instances} instances: prepared {r.preparedCount} (
          {names(r.prepared, r.preparedCount)}), committed {r.committedCount} ({names(r.committed, r.committedCount)})
          {r.failed.length > 0 && `; failed: ${r.failed.join("; ")}`}
        </p>
      )}
      <p class="last">Last: {props.last ?? "no rollout yet"}</p>
    </section>
  );
}

function Timeline(props: { readonly live: Live }) {
  const lines: readonly JournalLine[] = [...props.live.timeline].reverse();
  return (
    <section class="timeline">
      <h2>Decisions</h2>
      <ol data-testid="timeline">
        {lines.map((e) => (
          <li key={e.seq} class={`kind-${e.kind}`}>
            <time>{new Date(e.at).toISOString().slice(11, 23)}</time>
            <span class="kind">{e.kind}</span>
            <span class="msg">{e.message}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

render(<App />, document.getElementById("app")!);
