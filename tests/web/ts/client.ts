// A small client of the order service, written against the types openapi-typescript
// generates from the served /openapi.json (./api.d.ts, made by the test). Nothing is cast:
// if the document stopped saying what the service answers, `tsc --strict` would refuse this
// file. Run after compiling: node out/client.js <base URL> <write token>; it prints JSON.
import type { components, paths } from "./api";

type Schemas = components["schemas"];
type Created = paths["/orders"]["post"]["responses"][201]["content"]["application/json"];
type Applied =
  paths["/orders/{order_id}/events/dispatch"]["post"]["responses"][200]["content"]["application/json"];
type Refused =
  paths["/orders/{order_id}/events/request_cancellation"]["post"]["responses"][409]["content"]["application/problem+json"];
type NewOrder = Schemas["NewOrder"];
type Claim = Schemas["open_claim_payload"];

// Node's globals this file uses (no @types/node: the lockfile pins only the two tools).
declare const process: { argv: string[]; exitCode?: number };

// R8: a claim gives one of the reasons the document lists...
export const claim: Claim = {
  at: "2026-03-05T09:00:00+08:00",
  reason: "damaged_in_transit",
  amount: "5.00",
};

export const unreadable: Claim = {
  at: "2026-03-05T09:00:00+08:00",
  // @ts-expect-error R8: a reason outside not_as_described and damaged_in_transit
  reason: "changed_my_mind",
  amount: "5.00",
};

// ... and a state is one of the table's.
// @ts-expect-error "shipped" is no state of the machine's table
export const notAState: Schemas["StateName"] = "shipped";

async function post(base: string, token: string, path: string, body: object): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function main(base: string, token: string): Promise<void> {
  const order: NewOrder = {
    order_id: "TS-1",
    amount: "39.90",
    currency: "USD",
    paid_at: "2026-03-02T10:00:00+08:00",
  };
  const created: Created = await (await post(base, token, "/orders", order)).json();
  const state: Schemas["StateName"] = created.order.state;
  const deadline: string = created.order.dispatch_deadline;

  const dispatch: Schemas["dispatch_payload"] = {
    at: "2026-03-03T09:00:00+08:00",
    tracking_number: "LP0042CN",
  };
  const applied: Applied = await (await post(base, token, "/orders/TS-1/events/dispatch", dispatch)).json();
  const dest: Schemas["StateName"] = applied.result.dest;

  const cancel: Schemas["request_cancellation_payload"] = { at: "2026-03-04T09:00:00+08:00" };
  const answer = await post(base, token, "/orders/TS-1/events/request_cancellation", cancel);
  const problem: Refused = await answer.json();
  const rule: string | null | undefined = problem.rule;
  const kind: "state" | "data" | "time" | null | undefined = problem.kind;

  console.log(JSON.stringify({ state, deadline, dest, status: answer.status, rule, kind }));
}

const [base, token] = process.argv.slice(2);
if (base === undefined || token === undefined) {
  throw new Error("usage: node out/client.js <base URL> <write token>");
}
main(base, token).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
