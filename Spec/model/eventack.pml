/*
 * EventAck 1.1 — one session, its run, its producer and its client, checked exhaustively with SPIN.
 *
 * What is modelled (README.md maps every variable to its requirement id):
 *   - a producer that publishes the run's events with idempotency keys, retries a request whose answer a crash
 *     lost, and may stop mid-run (EA-PUB-4, EA-RUN-2);
 *   - a server whose every change is written ahead to a store before anything depending on it is sent
 *     (EA-DUR-2), whose commits can fail with an unknown outcome and are retried as the same write (EA-DUR-7), which
 *     can crash and rebuild the session from the store (EA-DUR-3), retransmits with an attempt limit (EA-RTX-1/2/4),
 *     keeps a window (EA-FLOW-1), rotates the resume token with a grace (EA-RES-3), echoes `synced` (EA-SYNC-1),
 *     takes display nacks as final (EA-NACK-2), fails display after its deadline (§ 8), ends a silent run itself
 *     (EA-RUN-2) and records the run's verdict (EA-DUR-6);
 *   - a client that delivers in order exactly once (EA-DEL-1/2), acks, confirms or nacks display, re-sends what no
 *     `synced` covered (EA-SYNC-3/4, EA-RES-4), skips a seq the server gave up (EA-SYNC-5), resumes after every cut
 *     (EA-RES-1) and restarts from its snapshot (saved before it acts on each input);
 *   - a channel whose connection can be cut (everything in flight lost), and on which single frames can be lost,
 *     duplicated, or overtaken by the next event, within the bounds below.
 *
 * Deliberately broken variants (verify.sh must see each rejected):
 *   -DBROKEN_NO_GRACE          the token a client resumed with dies at once (EA-RES-3's grace removed)
 *   -DBROKEN_WRITE_AHEAD       frames leave before the change they depend on is durable (EA-DUR-2 violated)
 *   -DBROKEN_RESUME_ATTEMPTS   a replay after a resume does not count against the attempt limit (EA-RTX-4 bypassed)
 *   -DBROKEN_NO_IDLE_TIMEOUT   a run whose producer went silent is never ended by the server (EA-RUN-2 dropped)
 *
 * Time is abstracted away: every timer (retransmission, display deadline, the run's idle timeout, the client's
 * periodic re-send) may fire at any moment, which covers every timing; a client always comes back within the
 * resume window and the token grace (their expiry is a failure with a reason, not modelled here).
 */

#define N 3            /* events in the run: seq 1 asks for receipt, seqs 2 and 3 for display */
#define W 2            /* the window */
#define MAXATT 2       /* attempts per event */
#ifndef MAXCUTS
#define MAXCUTS 2      /* connection cuts */
#endif
#ifndef MAXLOSS
#define MAXLOSS 1      /* single frames lost by an intermediary */
#endif
#ifndef MAXDUP
#define MAXDUP 1       /* events duplicated */
#endif
#ifndef MAXREORDER
#define MAXREORDER 1   /* events overtaken by a later one */
#endif
#ifndef MAXCRASH
#define MAXCRASH 1     /* server crashes (recovery from the store) */
#endif
#ifndef MAXRESTART
#define MAXRESTART 1   /* client restarts from its snapshot */
#endif
#ifndef MAXSTOREFAIL
#define MAXSTOREFAIL 1 /* commits whose outcome the server does not learn */
#endif
#define SILENT 9       /* the id of the terminal event the server emits for a silent run */

/* Seqs 1..N are bits 1..N of a byte. */
#define B(s) (1 << (s))
#define ALL (B(N + 1) - 2)
#define DISPLAY_SEQS (B(2) | B(3))
#define EMITTED(n) (B((n) + 1) - 2)
#define LOWEST(m) (((m) & B(1)) -> 1 : (((m) & B(2)) -> 2 : (((m) & B(3)) -> 3 : 0)))
#define BELOW_TOP(m) (((m) & B(3)) -> (B(1) | B(2)) : (((m) & B(2)) -> B(1) : 0))
#define POP(m) ((((m) >> 1) & 1) + (((m) >> 2) & 1) + (((m) >> 3) & 1))

#ifdef BROKEN_WRITE_AHEAD
#define CAN_SEND true
#else
#define CAN_SEND !dirty
#endif
/* Without crashes or store faults, nothing can happen between a change and its commit: they are one step. */
#if MAXCRASH > 0 || MAXSTOREFAIL > 0 || defined(BROKEN_WRITE_AHEAD)
#define CHANGED dirty = true
#else
#define CHANGED commit()
#endif
#ifdef BROKEN_NO_GRACE
#define GRACE false
#else
#define GRACE true
#endif

mtype = { HELLO, ACK, NACK, WELCOME, EVENT, SYNCED };

chan c2s = [2] of { mtype, byte, byte, byte };   /* client → server on the current connection */
chan s2c = [3] of { mtype, byte, byte, byte };   /* server → client */
chan pubReq = [1] of { byte };                   /* producer → server: publish event k */
chan pubAns = [1] of { byte, bool };             /* server → producer: k answered; true if refused, run_ended */

/* ---- The store (durable): what survives a server crash (EA-DUR-1). ---- */
byte s_next;              /* highest seq assigned */
byte s_key[N + 1];        /* idempotency key k → its seq (0: none) (EA-PUB-4) */
byte s_ev[N + 1];         /* seq → the event it carries (k, or SILENT) */
byte s_rc, s_dc;          /* confirmed at receipt, at display */
byte s_fr, s_fd;          /* failed at receipt (receipt_timeout), at display (nack or display deadline) */
byte s_tok, s_old;        /* current token, and the one the client resumed with */
bool s_grace;             /* s_old is still valid (EA-RES-3) */
bool s_ended, s_silent;   /* the run has ended; the server ended it (agent_silent, EA-RUN-2) */
byte s_verdicts;          /* verdict records (EA-DUR-6) */

/* ---- The server's memory: lost in a crash. ---- */
byte v_next, v_key[N + 1], v_ev[N + 1], v_rc, v_dc, v_fr, v_fd, v_tok, v_old;
bool v_grace, v_ended, v_silent, v_verdict;
byte v_sent;              /* seqs sent in this process's life (or taken as sent at recovery, EA-DUR-3) */
byte v_att[N + 1];        /* attempts in this process's life (EA-RTX-4) */
bool v_conn;              /* a client connection is attached */
bool v_proved;            /* the client acked or nacked on the resumed connection (EA-RES-3) */
bool dirty;               /* changes not yet durable */
bool pW, pS;              /* welcome, synced to send */
byte pEv;                 /* events to send */
byte pAns;                /* the publish to answer (0: none) */

/* ---- The producer. ---- */
byte p_k = 1;             /* the event it publishes next */
bool p_wait;              /* its request is unanswered */

/* ---- The client: its snapshot is its state (saved before it acts on each input). ---- */
bool c_conn;              /* connected, hello sent */
bool c_welcomed;          /* the connection's welcome arrived: acks and nacks may follow (EA-RES-3) */
byte c_tok;               /* the latest token received */
byte c_have, c_skip, c_nxt;
byte c_ev[N + 1];         /* the event each seq carried, as first received */
byte c_last;              /* the last event delivered to the app */
byte c_disp, c_nack;      /* confirmed at display, nacked at display, by the app */
byte c_pend;              /* display confirmations and nacks no synced has covered yet */
bool c_ackDue;
byte c_nackOut;           /* nacks sent on this connection */

/* ---- Fault budgets and ghosts. ---- */
byte cuts, losses, dups, reorders, crashes, restarts, storeFails, resends, pubRetries;
bool agentStopped, sessionLost;

/* Scratch: received fields, never part of a state. */
hidden byte t_k, t_t, t_r, t_d, t_s, t_e, t_a, t_m;
hidden byte t_b;

#define USED (((v_att[1] >= MAXATT) -> B(1) : 0) | ((v_att[2] >= MAXATT) -> B(2) : 0) | ((v_att[3] >= MAXATT) -> B(3) : 0))
#define OUTSTANDING (v_sent & ~(v_rc | v_fr) & ALL)
/* What may go out: resends, and the next emitted event if the window has room (EA-FLOW-1). */
#define NEW_ONE ((POP(OUTSTANDING) < W) -> B(LOWEST(EMITTED(v_next) & ~v_sent & ALL)) & ALL : 0)
#define QUIET (empty(s2c) && empty(c2s) && !c_ackDue)
#define SENDABLE (pEv | NEW_ONE)
#define resolved(s) ((v_fr & B(s)) || (v_fd & B(s)) || ((v_rc & B(s)) && (!(DISPLAY_SEQS & B(s)) || (v_dc & B(s)))))
#define RESOLVED_UP_TO(n) ((1 > (n) || resolved(1)) && (2 > (n) || resolved(2)) && (3 > (n) || resolved(3)))

/* Nothing is confirmed that the client did not confirm (EA-ACK-3, EA-LVL-2). */
#define CONFIRMED_ONLY_BY_CLIENT (((v_rc & ~c_have & ALL) == 0) && ((v_dc & ~c_disp & ALL) == 0))

/* The verdict is recorded by the write that resolves the ended run's last event (EA-DUR-6). */
inline commit() {
    if
    :: v_ended && !v_verdict && RESOLVED_UP_TO(v_next) -> v_verdict = true
    :: else -> skip
    fi;
    s_next = v_next; s_rc = v_rc; s_dc = v_dc; s_fr = v_fr; s_fd = v_fd;
    s_tok = v_tok; s_old = v_old; s_grace = v_grace; s_ended = v_ended; s_silent = v_silent;
    s_key[1] = v_key[1]; s_key[2] = v_key[2]; s_key[3] = v_key[3];
    s_ev[1] = v_ev[1]; s_ev[2] = v_ev[2]; s_ev[3] = v_ev[3];
    if
    :: v_verdict && s_verdicts == 0 -> s_verdicts++
    :: else -> skip              /* none, or a retried write: its verdict is read back, not added (EA-DUR-7) */
    fi
}

/* EA-DUR-3: rebuild from the store; seqs at or below the highest one confirmed or failed count as sent. */
inline recover() {
    v_next = s_next; v_rc = s_rc; v_dc = s_dc; v_fr = s_fr; v_fd = s_fd;
    v_tok = s_tok; v_old = s_old; v_grace = s_grace; v_ended = s_ended; v_silent = s_silent;
    v_verdict = (s_verdicts > 0);
    v_key[1] = s_key[1]; v_key[2] = s_key[2]; v_key[3] = s_key[3];
    v_ev[1] = s_ev[1]; v_ev[2] = s_ev[2]; v_ev[3] = s_ev[3];
    v_att[1] = 0; v_att[2] = 0; v_att[3] = 0;
    t_m = v_rc | v_fr | v_fd;
    v_sent = ((t_m & B(3)) -> EMITTED(3) : ((t_m & B(2)) -> EMITTED(2) : ((t_m & B(1)) -> EMITTED(1) : 0)));
    v_conn = false; v_proved = true; dirty = false;
    pW = false; pS = false; pEv = 0; pAns = 0; t_m = 0
}

/* A cut loses everything in flight on the connection; the client will resume. */
inline cut() {
    do
    :: nempty(c2s) -> c2s?_, _, _, _
    :: nempty(s2c) -> s2c?_, _, _, _
    :: empty(c2s) && empty(s2c) -> break
    od;
    v_conn = false; pW = false; pS = false; pEv = 0;
    c_conn = false; c_welcomed = false; c_ackDue = false; c_nackOut = 0
}

/* Seqs the server sends again as far as their attempts allow; the used-up ones fail, receipt_timeout (EA-RTX-4). */
inline resend(m) {
    t_m = m;
    v_fr = v_fr | (t_m & USED);
    pEv = pEv | (t_m & ~USED & ALL);
    if
    :: (t_m & USED) != 0 -> pS = true; CHANGED
    :: else -> skip
    fi;
    t_m = 0
}

inline proofOfNewToken() {
    if
    :: !v_proved -> v_proved = true; v_grace = false
    :: else -> skip
    fi
}

/* Seq t_s goes out (again): it is sent, within the window (EA-FLOW-1), one more attempt, never past the limit
   (EA-RTX-4). Every way an event leaves — in order, overtaking, duplicated — goes through here. */
inline transmitting() {
    pEv = pEv & ~B(t_s); v_sent = v_sent | B(t_s);
    assert(POP(OUTSTANDING) <= W);
    v_att[t_s]++; assert(v_att[t_s] <= MAXATT)
}

proctype Server() {
end_idle:
    do
    /* --- a publish: one idempotency key, one emit (EA-PUB-4, EA-RUN-1) --- */
    :: d_step {
            pAns == 0 && nempty(pubReq) -> pubReq?t_k;
            if
            :: v_key[t_k] != 0 -> skip                               /* a duplicate: its seq again */
            :: v_key[t_k] == 0 && v_ended -> skip                    /* run_ended */
            :: v_key[t_k] == 0 && !v_ended ->
                v_next++; assert(v_next <= N);
                v_key[t_k] = v_next; v_ev[v_next] = t_k;
                v_ended = (t_k == N); CHANGED
            fi;
            pAns = t_k; t_k = 0
        }
    /* --- a resume: the token checked, rotated with a grace (EA-RES-2, EA-RES-3) --- */
    :: d_step {
            c2s?HELLO, _, t_t, t_r ->
            if
            :: t_t == v_tok || (v_grace && t_t == v_old) ->
                v_old = t_t; v_grace = GRACE; v_tok++; v_proved = false; v_conn = true;
                /* the receipt acks what it names of what was emitted (EA-RES-7); after a recovery, a named seq
                   counts as sent (EA-DUR-3) */
                v_sent = v_sent | (t_r & EMITTED(v_next));
                v_rc = v_rc | (t_r & EMITTED(v_next) & ~v_fr & ~v_fd & ALL);
                assert(CONFIRMED_ONLY_BY_CLIENT);
                pW = true; pS = true; pEv = 0;
#ifdef BROKEN_RESUME_ATTEMPTS
                pEv = OUTSTANDING;
#else
                resend(OUTSTANDING);
#endif
                CHANGED
            :: else -> sessionLost = true                            /* an honest client's session refused */
            fi;
            t_t = 0; t_r = 0
        }
    :: atomic { sessionLost -> assert(!sessionLost) }
    /* --- acks and nacks --- */
    :: d_step { losses < MAXLOSS && c2s?[ACK, t_r, t_d, t_t] -> c2s?_, _, _, _; losses++ }
    :: d_step {
            c2s?ACK, t_r, t_d, _ ->
            v_dc = v_dc | (t_d & v_sent & DISPLAY_SEQS & ~v_fd & ~v_fr & ALL);
            v_rc = v_rc | ((t_r | t_d) & v_sent & ~v_fr & ALL);
            assert(CONFIRMED_ONLY_BY_CLIENT);
            /* EA-RTX-2: holes below a received seq go out again at once, if their attempts allow */
            pEv = pEv | (OUTSTANDING & BELOW_TOP(t_r) & ~USED & ALL);
            proofOfNewToken(); pS = true; CHANGED; t_r = 0; t_d = 0
        }
    :: d_step {
            c2s?NACK, t_s, _, _ ->
            if
            :: (v_sent & DISPLAY_SEQS & B(t_s)) && !((v_dc | v_fd | v_fr) & B(t_s)) ->
                assert(c_nack & B(t_s)); v_fd = v_fd | B(t_s); v_rc = v_rc | B(t_s)   /* final (EA-NACK-2) */
            :: else -> skip                                          /* a duplicate nack (EA-NACK-3) */
            fi;
            proofOfNewToken(); pS = true; CHANGED; t_s = 0
        }
    /* --- timers: any may fire at any time --- */
    :: d_step { QUIET && v_conn && (OUTSTANDING & ~pEv & B(1)) -> resend(B(1)) }       /* receipt deadlines (EA-RTX-1) */
    :: d_step { QUIET && v_conn && (OUTSTANDING & ~pEv & B(2)) -> resend(B(2)) }
    :: d_step { QUIET && v_conn && (OUTSTANDING & ~pEv & B(3)) -> resend(B(3)) }
    :: d_step { QUIET && (v_rc & ~(v_dc | v_fd) & B(2)) -> v_fd = v_fd | B(2); pS = v_conn; CHANGED }   /* display (§ 8) */
    :: d_step { QUIET && (v_rc & ~(v_dc | v_fd) & B(3)) -> v_fd = v_fd | B(3); pS = v_conn; CHANGED }
#ifndef BROKEN_NO_IDLE_TIMEOUT
    :: d_step {                                                       /* the run's idle timeout (EA-RUN-2) */
            !v_ended && pAns == 0 ->
            v_next++; assert(v_next <= N);
            v_ev[v_next] = SILENT; v_ended = true; v_silent = true; CHANGED
        }
#endif
    /* --- write-ahead: commit, possibly with an outcome the server does not learn, then retried (EA-DUR-7) --- */
    :: d_step { dirty -> commit(); dirty = false }
    :: d_step { dirty && storeFails < MAXSTOREFAIL -> storeFails++; commit() }   /* committed, answer lost */
    :: d_step { dirty && storeFails < MAXSTOREFAIL -> storeFails++ }             /* not committed */
    /* --- send what the durable state allows (EA-DUR-2) --- */
    :: d_step { CAN_SEND && pAns != 0 && nfull(pubAns) -> pubAns!pAns, (v_ended && v_key[pAns] == 0); pAns = 0 }
    :: d_step { CAN_SEND && v_conn && pW && nfull(s2c) -> s2c!WELCOME, v_tok, 0, 0; pW = false }
    :: d_step {
            CAN_SEND && v_conn && !pW && pS && nfull(s2c) ->
            s2c!SYNCED, (v_rc | v_fr | v_fd) & v_sent, (v_dc | v_fd) & v_sent, 0; pS = false
        }
    :: d_step {                                                       /* events in seq order */
            !dirty && v_conn && !pW && !pS && SENDABLE != 0 && nfull(s2c) ->
            t_s = LOWEST(SENDABLE); transmitting();
            s2c!EVENT, t_s, v_ev[t_s], v_att[t_s]; t_s = 0
        }
    :: d_step {                                                       /* ... or a later one overtaking */
            !dirty && v_conn && !pW && !pS && POP(SENDABLE) > 1 && reorders < MAXREORDER && nfull(s2c) ->
            reorders++; t_s = LOWEST(SENDABLE & ~B(LOWEST(SENDABLE))); transmitting();
            s2c!EVENT, t_s, v_ev[t_s], v_att[t_s]; t_s = 0
        }
    :: d_step {                                                       /* ... or one duplicated on the way */
            !dirty && v_conn && !pW && !pS && SENDABLE != 0 && dups < MAXDUP && len(s2c) < 2 ->
            dups++; t_s = LOWEST(SENDABLE); transmitting();
            s2c!EVENT, t_s, v_ev[t_s], v_att[t_s]; s2c!EVENT, t_s, v_ev[t_s], v_att[t_s]; t_s = 0
        }
    /* --- faults --- */
    :: d_step {
            crashes < MAXCRASH -> crashes++; cut();
            do
            :: nempty(pubReq) -> pubReq?_
            :: nempty(pubAns) -> pubAns?_, _
            :: empty(pubReq) && empty(pubAns) -> break
            od;
            recover()
        }
    :: d_step { v_conn && c_conn && cuts < MAXCUTS -> cuts++; cut() }
    od
}

proctype Producer() {
end_idle:
    do
    :: d_step { p_k <= N && !p_wait && nfull(pubReq) -> pubReq!p_k; p_wait = true }
    :: d_step { p_k <= N && !p_wait -> agentStopped = true; p_k = N + 1 }        /* dies or hangs mid-run */
    :: d_step {                                                       /* its answer was lost: the same request */
            p_wait && empty(pubReq) && empty(pubAns) && pAns == 0 && pubRetries < crashes ->
            pubRetries++; pubReq!p_k
        }
    :: d_step {
            pubAns?t_a, t_b ->
            if
            :: t_a == p_k && t_b -> p_k = N + 1; p_wait = false      /* run_ended: it stops */
            :: t_a == p_k && !t_b -> p_k++; p_wait = false
            :: else -> skip                                          /* the answer to an earlier copy */
            fi;
            t_a = 0; t_b = 0
        }
    od
}

/* EA-DEL-1, EA-DEL-2, EA-SYNC-5: in seq order, once each; a seq the server gave up is skipped, reported lost. */
inline deliverInOrder() {
    do
    :: c_nxt <= N && (c_have & B(c_nxt)) ->
        assert(c_ev[c_nxt] > c_last); c_last = c_ev[c_nxt]; c_nxt++
    :: c_nxt <= N && (c_skip & B(c_nxt)) -> c_nxt++
    :: else -> break
    od
}

proctype Client() {
end_idle:
    do
    :: d_step { s2c?WELCOME, t_a, _, _ -> c_tok = t_a; c_welcomed = true; c_ackDue = true; c_nackOut = 0; t_a = 0 }
    :: d_step { losses < MAXLOSS && s2c?[EVENT, t_s, t_e, t_a] -> s2c?_, _, _, _; losses++ }
    :: d_step {
            s2c?EVENT, t_s, t_e, t_a ->
            if
            :: c_have & B(t_s) -> assert(c_ev[t_s] == t_e); c_ackDue = true   /* a duplicate, acked again */
            :: c_skip & B(t_s) -> skip                                /* a late copy of a skipped seq */
            :: else -> c_have = c_have | B(t_s); c_ev[t_s] = t_e; deliverInOrder(); c_ackDue = true
            fi;
            t_s = 0; t_e = 0; t_a = 0
        }
    :: d_step { losses < MAXLOSS && s2c?[SYNCED, t_r, t_d, t_a] -> s2c?_, _, _, _; losses++ }
    :: d_step {
            s2c?SYNCED, t_r, t_d, _ ->
            c_pend = c_pend & ~t_d;
            c_skip = c_skip | (t_r & ~c_have & ALL);      /* settled at receipt, never arrived: failed (EA-SYNC-5) */
            deliverInOrder(); t_r = 0; t_d = 0
        }
    /* the app confirms display of an event it was given, or rejects it */
    :: d_step { (c_nxt > 2 && (c_have & B(2)) && !((c_disp | c_nack) & B(2))) -> c_disp = c_disp | B(2); c_pend = c_pend | B(2); c_ackDue = true }
    :: d_step { (c_nxt > 2 && (c_have & B(2)) && !((c_disp | c_nack) & B(2))) -> c_nack = c_nack | B(2); c_pend = c_pend | B(2) }
    :: d_step { (c_nxt > 3 && (c_have & B(3)) && !((c_disp | c_nack) & B(3))) -> c_disp = c_disp | B(3); c_pend = c_pend | B(3); c_ackDue = true }
    :: d_step { (c_nxt > 3 && (c_have & B(3)) && !((c_disp | c_nack) & B(3))) -> c_nack = c_nack | B(3); c_pend = c_pend | B(3) }
    :: d_step { c_welcomed && c_ackDue && nfull(c2s) -> c2s!ACK, c_have, c_disp, 0; c_ackDue = false }
    :: d_step {
            c_welcomed && (c_pend & c_nack & ~c_nackOut) != 0 && nfull(c2s) ->
            t_s = LOWEST(c_pend & c_nack & ~c_nackOut); c2s!NACK, t_s, 0, 0; c_nackOut = c_nackOut | B(t_s); t_s = 0
        }
    /* EA-SYNC-4: re-send what no synced covered, or the receipt set over a hole. A re-send that meets no loss
       changes nothing (acks are idempotent, EA-ACK-3), so one per loss, plus one, covers every behaviour. */
    :: d_step {
            c_welcomed && !c_ackDue && (c_pend != 0 || c_have >= B(c_nxt + 1)) && resends < losses + 1 ->
            resends++; c_ackDue = true; c_nackOut = 0
        }
    /* reconnect and resume with the latest token and the receipt set (EA-RES-1, EA-RES-4) */
    :: d_step { !c_conn && nfull(c2s) -> c_conn = true; c2s!HELLO, 1, c_tok, c_have }
    /* the client restarts from its snapshot: its connection is gone, unsent frames with it */
    :: d_step { c_conn && restarts < MAXRESTART -> restarts++; cut() }
    od
}

init {
    atomic {
        /* The session exists (its first welcome gave token 1); the client connects with it. */
        s_tok = 1; v_tok = 1; c_tok = 1; v_proved = true; c_nxt = 1;
#ifdef PREEMITTED
        /* The producer published the whole run before the client connected (the network configurations). */
        s_next = N; v_next = N; s_ended = true; v_ended = true; p_k = N + 1;
        s_key[1] = 1; s_key[2] = 2; s_key[3] = 3; s_ev[1] = 1; s_ev[2] = 2; s_ev[3] = 3;
        v_key[1] = 1; v_key[2] = 2; v_key[3] = 3; v_ev[1] = 1; v_ev[2] = 2; v_ev[3] = 3;
#endif
        c_conn = true; c2s!HELLO, 1, 1, 0;
        run Server(); run Producer(); run Client()
    }
}

/* Liveness. Every action of this model uses up a budget or moves a bounded quantity forward (a seq, a mask, an
   attempt count, a token), so every behaviour is finite: verify.sh proves it (pan -l finds no cycle at all), which
   makes fairness assumptions vacuous and turns "eventually, for ever" into "in every final state". The final state
   of every behaviour must then have every emitted event resolved — confirmed at its level, or failed with a
   reason — the run ended, with its one verdict, durable; the client waiting for no seq (it holds or has skipped
   every seq below the highest it holds: none the server gave up, EA-SYNC-5); and a run whose agent stopped ended
   by the server (EA-RUN-2). The same, as LTL (checked with pan -a -f where the state space allows): */
#define everythingResolved (s_ended && s_verdicts == 1 && !dirty)
#define clientNotWaiting (c_have < B(c_nxt + 1))
#define silentRunEnded (!agentStopped || (s_ended && s_verdicts == 1))
ltl resolved { <> [] (everythingResolved && clientNotWaiting) }
ltl silentRunEnds { [] (agentStopped -> <> (s_ended && s_verdicts == 1)) }

/* Runs only once nothing else can: checks the final state. */
active proctype Final() {
    timeout -> assert(everythingResolved && clientNotWaiting && silentRunEnded)
}
