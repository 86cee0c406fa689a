import EventAckProtocol
import EventAckReconciler

/// The agents: each run's script, emitted to the session it was requested in.
extension Simulation {
    mutating func agentStep(_ index: Int) {
        guard !runs[index].isDone else { return }
        if runs[index].next == 0 {
            // Named when requested, by the server process alive then (as POST /runs does): a process that
            // restarted must not give an old run's id to a new run of the same session (EA-RUN-1).
            runs[index].name = runIDs.next()
        }
        let run = runs[index]
        if run.next == 0 {
            do throws(ReconcilerError) {
                perform(try server.runRequested(run.name, in: run.session, now: now))
            } catch {
                abandon(index)
                return
            }
        }
        switch run.steps[run.next].action {
        case .emit(let kind, let confirm, let members):
            let eid = ledger.emissions.count
            let payload = try! Payload(json: "{\"eid\":\(eid)" + (members.isEmpty ? "" : "," + members) + "}")
            let emission: Emission
            do throws(ReconcilerError) {
                emission = try server.emit(
                    run: run.name, kind: kind, payload: payload, confirm: confirm, to: run.session, now: now)
            } catch  where error.code == "window_exceeded" {
                // Backpressure: the agent waits and tries again; nothing is dropped.
                queue.schedule(.agentStep(run: index), at: now + 200)
                return
            } catch {
                abandon(index)
                return
            }
            ledger.emitted(
                eid: eid, session: run.session, seq: emission.seq, run: run.name, agentRun: index, level: confirm,
                intent: intent(for: confirm))
            perform(emission.actions)
        case .progress(let note):
            if let actions = try? server.progress(run: run.name, note: note, in: run.session, now: now) {
                perform(actions)
            }
        }
        runs[index].next += 1
        if runs[index].next < run.steps.count {
            queue.schedule(.agentStep(run: index), at: now + run.steps[runs[index].next].afterMs)
        }
    }

    /// The session is gone (its client restarted and it expired): the agent cannot reach anyone.
    private mutating func abandon(_ index: Int) {
        runs[index].abandoned = true
        ledger.abandonedEmits += 1
    }

    private mutating func intent(for level: ConfirmationLevel) -> UserIntent {
        guard level > .receipt else { return .none }
        if behaviour.chance(scenario.neverConfirmProbability) { return .never }
        if behaviour.chance(scenario.rejectProbability) {
            return .reject(level == .value && behaviour.chance(0.5) ? .value : .display)
        }
        return .confirm
    }
}
