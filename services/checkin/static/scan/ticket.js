/* Checking a ticket on the phone, with no network (docs/tickets.md):
 *   "T1." + base32 (no padding) of 89 bytes:
 *   [0] version 1 | [1..4] key id | [5..20] ticket id (UUID) | [21..24] event tag |
 *   [25..88] Ed25519 signature over "tomoni-ticket-v1\0" + bytes[0..24].
 * The answer is provisional: the server decides again when the scan is synced.
 * Nothing here throws on any input: junk is "rejected / invalid_signature". */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const PREFIX = "T1.";
  const LENGTH = 89;
  const MAX_TEXT = 200; // a real ticket is 146 characters
  const CONTEXT = new TextEncoder().encode("tomoni-ticket-v1\0");
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

  function base32(text) {
    let bits = 0;
    let value = 0;
    const out = [];
    for (const ch of text) {
      const v = ALPHABET.indexOf(ch);
      if (v < 0) return null;
      value = (value << 5) | v;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >>> bits) & 0xff);
      }
      value &= (1 << bits) - 1; // keep only the bits not yet written (at most 7)
    }
    // The one spelling the issuer writes: the unused bits at the end are zero (as the
    // server checks; another spelling of the same bytes is not a ticket of ours).
    if (value !== 0) return null;
    return new Uint8Array(out);
  }

  function b64url(text) {
    const s = String(text).replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(s + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

  function uuid(bytes) {
    const h = hex(bytes);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /* The parts of a ticket, or null when the text is not one. */
  function parse(text) {
    if (typeof text !== "string") return null;
    const s = text.trim();
    if (s.length > MAX_TEXT || !s.startsWith(PREFIX)) return null;
    const raw = base32(s.slice(PREFIX.length));
    if (!raw || raw.length !== LENGTH || raw[0] !== 1) return null;
    return {
      body: raw.slice(0, 25),
      kid: hex(raw.slice(1, 5)),
      ticketId: uuid(raw.slice(5, 21)),
      tag: hex(raw.slice(21, 25)),
      signature: raw.slice(25),
    };
  }

  /* Imported public keys by key id (hex); reloaded when the list changes. */
  let keysSource = null;
  let keys = new Map();

  async function importKeys(list) {
    const source = JSON.stringify(list || []);
    if (source === keysSource) return keys;
    const next = new Map();
    for (const k of list || []) {
      try {
        const raw = b64url(k.public_key);
        if (raw.length !== 32) continue;
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
        const kid = hex(digest.slice(0, 4));
        let key = null;
        try {
          key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
        } catch (e) {
          key = null; // this browser has no Ed25519: only the other checks can run
        }
        next.set(kid, key);
      } catch (e) {
        /* a malformed key is skipped */
      }
    }
    keys = next;
    keysSource = source;
    return keys;
  }

  const tags = new Map();
  async function eventTag(slug) {
    if (!tags.has(slug)) {
      const d = new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(slug))
      );
      tags.set(slug, hex(d.slice(0, 4)));
    }
    return tags.get(slug);
  }

  /* Check a scan with what the phone knows. `ctx`: {keys, event, revoked: Set, direction,
   * categories?: {code: {reentry}}, role?, place?}. Resolves {result, reason?, ticketId?,
   * unverified?, first_at?, first_gate?}. A booth (role "booth") gets the same checks of
   * the ticket, then "stamped", or "already_stamped" when this phone stamped it before. */
  async function check(text, ctx) {
    try {
      const p = parse(text);
      if (!p) return { result: "rejected", reason: "invalid_signature" };
      const known = await importKeys(ctx.keys);
      if (!known.has(p.kid)) {
        return { result: "rejected", reason: "invalid_signature", ticketId: p.ticketId };
      }
      const key = known.get(p.kid);
      let unverified = false;
      if (key) {
        const message = new Uint8Array(CONTEXT.length + p.body.length);
        message.set(CONTEXT);
        message.set(p.body, CONTEXT.length);
        const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, p.signature, message);
        if (!ok) return { result: "rejected", reason: "invalid_signature" };
      } else {
        unverified = true;
      }
      if (p.tag !== (await eventTag(ctx.event || ""))) {
        return { result: "rejected", reason: "wrong_event", ticketId: p.ticketId };
      }
      if (ctx.revoked && ctx.revoked.has(p.ticketId)) {
        return { result: "rejected", reason: "cancelled", ticketId: p.ticketId };
      }
      const seen = await T.store.seen(p.ticketId).catch(() => null);
      const base = { ticketId: p.ticketId, unverified };
      if (ctx.role === "booth") {
        const here = !!(seen && Array.isArray(seen.booths) && seen.booths.includes(ctx.place));
        return Object.assign(base, {
          result: here ? "already_stamped" : "stamped",
          attendee: seen && seen.attendee,
        });
      }
      if (ctx.direction === "out") {
        return Object.assign(base, { result: "exited" });
      }
      // Back in after an exit: only categories with re-entry (when the phone knows it).
      const category = seen && seen.attendee && ctx.categories && ctx.categories[seen.attendee.category];
      const noReentry = seen && seen.first_at && category && category.reentry === false;
      if (seen && (seen.inside || noReentry)) {
        return Object.assign(base, {
          result: "already_admitted",
          first_at: seen.first_at,
          first_gate: seen.first_gate,
          attendee: seen.attendee,
        });
      }
      return Object.assign(base, { result: "admitted", attendee: seen && seen.attendee });
    } catch (e) {
      return { result: "rejected", reason: "invalid_signature" };
    }
  }

  T.ticket = { parse, check, importKeys, eventTag };
})();
