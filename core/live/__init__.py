"""Live calls: audio streamed in while the call runs, analysed as it is spoken.

:mod:`core.live.agreement` is the local-agreement policy that turns re-decoded audio windows
into committed words; :mod:`core.live.session` is one call in progress (its audio file, one
transcript stream per channel, utterances, sentiment, running metrics, alerts);
:mod:`core.live.manager` holds the sessions of a process, resumes a dropped one and hands
each ended call to the ordinary post-call pipeline.
"""
