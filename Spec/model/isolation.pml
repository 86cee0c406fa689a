/*
 * EventAck 1.1 — isolation between sessions (EA-ISO-1, EA-ISO-2, EA-RES-2, EA-RES-6), checked with SPIN.
 *
 * One server holds two sessions, A (0) and B (1), of two events each. Connection 0 is A's honest client; connection
 * 1 is a hostile client signed in as B's principal: it acks and nacks any seq, and resumes either session with any
 * token it has ever seen (every token the server gave it) — a token is a secret (EA-ISO-2), so the ones it never
 * saw are out of its reach. Property: session A's confirmations are only what A's client confirmed, and its
 * events reach only A's client; the same for B's honest events (they are confirmed only by the connection the
 * server bound to B).
 *
 * Broken variant (verify.sh must see it rejected): -DBROKEN_RESUME_WITHOUT_TOKEN binds a resumed connection to the
 * session it names without checking the token.
 */

#define NONE 2
#define B(s) (1 << (s))
#define ALL (B(1) | B(2))
/* Session A is confirmed only by what A's client received (EA-ISO-1). */
#define ISOLATED ((rc[0] & ~haveA) == 0)

mtype = { HELLO, ACK, WELCOME, EVENT };

chan toServer[2] = [2] of { mtype, byte, byte };   /* per connection: HELLO(session, token), ACK(mask) */
chan toClient[2] = [2] of { mtype, byte, byte };   /* WELCOME(session, token), EVENT(session, seq) */

byte tok[2];               /* each session's current token */
byte rc[2];                /* receipt-confirmed, per session */
byte sent[2];              /* sent, per session */
byte bound[2];             /* the session each connection serves (NONE) */
byte nextToken = 3;        /* tokens are never reused: 1 and 2 are the sessions' first */
byte hostileToken = 2;     /* the latest token the hostile connection was given (its first: B's) */
byte haveA;                /* what A's honest client received */
byte honestResumes, hostileResumes;

hidden byte t_s, t_t, t_m;

proctype Server() {
end_idle:
    do
    :: d_step {
            nfull(toClient[0]) && toServer[0]?[HELLO, t_s, t_t] -> toServer[0]?HELLO, t_s, t_t;
            if
            :: t_t == tok[t_s] -> bound[0] = t_s; tok[t_s] = nextToken; nextToken++;
                toClient[0]!WELCOME, t_s, tok[t_s]
            :: else -> skip                                           /* resume_rejected */
            fi;
            t_s = 0; t_t = 0
        }
    :: d_step {
            nfull(toClient[1]) && toServer[1]?[HELLO, t_s, t_t] -> toServer[1]?HELLO, t_s, t_t;
            if
#ifdef BROKEN_RESUME_WITHOUT_TOKEN
            :: true ->
#else
            :: t_t == tok[t_s] ->
#endif
                /* EA-RES-6: the session moves to this connection; the earlier one is closed */
                if :: bound[0] == t_s -> bound[0] = NONE :: else -> skip fi;
                bound[1] = t_s; tok[t_s] = nextToken; nextToken++;
                hostileToken = tok[t_s];                             /* it sees the new token */
                toClient[1]!WELCOME, t_s, tok[t_s]
            :: else -> skip
            fi;
            t_s = 0; t_t = 0
        }
    /* an ack applies to the session bound to its connection, and only to seqs sent to it (EA-ISO-1, EA-ACK-6) */
    :: d_step {
            toServer[0]?ACK, t_m, _ ->
            if :: bound[0] != NONE -> rc[bound[0]] = rc[bound[0]] | (t_m & sent[bound[0]]) :: else -> skip fi;
            assert(ISOLATED); t_m = 0
        }
    :: d_step {
            toServer[1]?ACK, t_m, _ ->
            if :: bound[1] != NONE -> rc[bound[1]] = rc[bound[1]] | (t_m & sent[bound[1]]) :: else -> skip fi;
            assert(ISOLATED); t_m = 0
        }
    /* each session's events go to the connection bound to it */
    :: d_step {
            bound[0] != NONE && (ALL & ~sent[bound[0]]) != 0 && nfull(toClient[0]) ->
            t_s = ((sent[bound[0]] & B(1)) -> 2 : 1); sent[bound[0]] = sent[bound[0]] | B(t_s);
            toClient[0]!EVENT, bound[0], t_s; t_s = 0
        }
    :: d_step {
            bound[1] != NONE && (ALL & ~sent[bound[1]]) != 0 && nfull(toClient[1]) ->
            t_s = ((sent[bound[1]] & B(1)) -> 2 : 1); sent[bound[1]] = sent[bound[1]] | B(t_s);
            toClient[1]!EVENT, bound[1], t_s; t_s = 0
        }
    od
}

/* A's honest client: resumes A with its token, acks what it received. */
proctype Honest() {
    byte myTok = 1;
end_idle:
    do
    :: d_step { toClient[0]?WELCOME, t_s, t_t -> myTok = t_t; t_s = 0; t_t = 0 }
    :: d_step {
            toClient[0]?EVENT, t_s, t_t ->
            assert(t_s == 0);                                         /* only A's events reach A's client */
            haveA = haveA | B(t_t); t_s = 0; t_t = 0
        }
    :: d_step { nfull(toServer[0]) && haveA != 0 -> toServer[0]!ACK, haveA, 0 }
    :: d_step { honestResumes < 2 && nfull(toServer[0]) -> honestResumes++; toServer[0]!HELLO, 0, myTok }
    od
}

/* The hostile client: any ack, any resume with a token it saw (or a guess it cannot make: none). */
proctype Hostile() {
end_idle:
    do
    :: toClient[1]?_, _, _
    :: nfull(toServer[1]) -> toServer[1]!ACK, ALL, 0
    :: hostileResumes < 2 && nfull(toServer[1]) ->
        hostileResumes++;
        if
        :: toServer[1]!HELLO, 0, 2                                    /* A's id with B's first token */
        :: toServer[1]!HELLO, 0, hostileToken                         /* ... or the latest it was given */
        :: toServer[1]!HELLO, 1, hostileToken                         /* its own session */
        fi
    od
}

init {
    atomic {
        tok[0] = 1; tok[1] = 2; bound[0] = NONE; bound[1] = NONE;
        toServer[0]!HELLO, 0, 1; toServer[1]!HELLO, 1, 2;
        run Server(); run Honest(); run Hostile()
    }
}

