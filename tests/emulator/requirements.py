"""The requirements manifest: each emulated behaviour, where it comes from, and the tests that enforce it.

Citations name the public 100ms docs page a behaviour follows (``D`` + URL path under https://www.100ms.live/docs/) or
the section of the project's 100ms API reference notes (``§N`` with its evidence tag: C confirmed, O observed,
I inferred), product.md, or an issue. ``tests/emulator/test_requirements_manifest.py`` checks that every listed test
exists and carries the ``@pytest.mark.requirement(id)`` marker, and that every emulator test is listed here. This is
test-only code: it lives under tests/, out of the wheel (issue 12).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REQUIREMENTS", "Requirement"]


@dataclass(frozen=True)
class Requirement:
    id: str
    citation: str
    behaviour: str
    tests: tuple[str, ...]


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(
        "REC-START-200",
        "§4.4 [C D:rec/start; O QA1-QA4]",
        "start answers the recording in starting with null started_at/stopped_at/recording_assets",
        ("test_recordings_lifecycle::test_start_answers_starting_with_null_started_at_assets_and_empty_started_by",),
    ),
    Requirement(
        "REC-LIFECYCLE",
        "§9 [C enum; I timing]",
        "starting -> running -> stopping -> post_processing -> completed on the emulator clock",
        (
            "test_recordings_lifecycle::test_recording_runs_after_start_delay_then_completes_after_processing_time",
            "test_recordings_lifecycle::test_zero_delays_mean_the_next_read_sees_the_next_state",
        ),
    ),
    Requirement(
        "REC-STOP-BEFORE-RUNNING",
        "§8, §9 [C D:wh BEAM_STOPPED]",
        "a stop while starting fails the recording",
        ("test_recordings_lifecycle::test_stop_before_running_fails_the_recording",),
    ),
    Requirement(
        "REC-START-409",
        "§6 [O QA1, QA2, QA3, QA5]",
        "one active recording per room: 409 beam already started",
        ("test_recordings_lifecycle::test_start_while_recording_answers_409_beam_already_started",),
    ),
    Requirement(
        "REC-STOP-ROOM",
        "§4.5 [C D:rec/stop-room; O QA1, QA3, QA4]",
        "stop-for-room answers a page of stopping recordings",
        ("test_recordings_lifecycle::test_stop_room_answers_a_page_of_stopping_recordings",),
    ),
    Requirement(
        "REC-STOP-404",
        "§6 [O QA1], §9 [I]",
        "stop with nothing active: 404 beam not found",
        (
            "test_recordings_lifecycle::test_stop_room_with_nothing_active_answers_404_beam_not_found",
            "test_recordings_lifecycle::test_stop_by_id_of_a_finished_recording_answers_404_beam_not_found",
        ),
    ),
    Requirement(
        "REC-ROOM-403",
        "§6 [O QA1, QA2]",
        "malformed room id: 403 user does not have required permission",
        ("test_recordings_lifecycle::test_start_with_malformed_room_id_answers_403",),
    ),
    Requirement(
        "REC-PAUSE",
        "§4.7 [C D:rec/pause, D:rec/resume]",
        "pause/resume keep status running; a flag, idempotent [I]",
        (
            "test_recordings_lifecycle::test_pause_and_resume_keep_status_running_and_are_idempotent",
            "test_recordings_lifecycle::test_paused_time_is_left_out_of_the_recording_duration",
        ),
    ),
    Requirement(
        "REC-PAUSE-404",
        "§9 [I]",
        "pause/resume with nothing active: 404 beam not found",
        ("test_recordings_lifecycle::test_pause_or_resume_with_nothing_active_answers_404_beam_not_found",),
    ),
    Requirement(
        "REC-GET-404",
        "§4.3 [I]",
        "unknown recording: 404 recording not found",
        ("test_recordings_lifecycle::test_get_unknown_recording_answers_404_recording_not_found",),
    ),
    Requirement(
        "REC-NULL-ABSENT",
        "§4.1 [C D:rec/list, D:rec/get]",
        "null-versus-absent rules of the recording object",
        (
            "test_recordings_lifecycle::test_list_omits_recording_assets_and_destination_but_get_has_them_as_documented",
            "test_recordings_lifecycle::test_embedded_assets_lack_job_room_and_session_ids",
        ),
    ),
    Requirement(
        "REC-TIMESTAMPS",
        "§1 [C]",
        "RFC 3339 UTC timestamps with variable precision",
        ("test_recordings_lifecycle::test_timestamps_are_rfc3339_utc_with_z",),
    ),
    Requirement(
        "PAGE-ENVELOPE",
        "§3 [C D:calls; I exclusive start]",
        "{limit, data, last}, newest first, exclusive cursor",
        ("test_pagination::test_list_pages_newest_first_with_limit_data_last_and_an_exclusive_cursor",),
    ),
    Requirement(
        "PAGE-STABLE",
        "§3 [I]",
        "cursors are stable under concurrent inserts",
        ("test_pagination::test_cursor_is_stable_when_recordings_are_inserted_between_pages",),
    ),
    Requirement(
        "PAGE-LIMIT",
        "§3 [C range; I clamp, 400 non-integer]",
        "limit default 10, clamped into 10..100",
        (
            "test_pagination::test_limit_outside_10_to_100_is_clamped",
            "test_pagination::test_non_integer_limit_answers_400_invalid_input",
            "test_pagination::test_malformed_start_cursor_answers_400",
        ),
    ),
    Requirement(
        "PAGE-FILTERS",
        "§4.2, §4.9 [C; I type filter]",
        "list filters",
        (
            "test_pagination::test_recordings_filter_by_room_session_and_status",
            "test_pagination::test_assets_filter_by_type_status_and_room",
        ),
    ),
    Requirement(
        "AUTH-401",
        "§2, §5 [C D:calls; O QA1, QA2]",
        "401 Token validation error with details",
        (
            "test_auth::test_missing_or_garbage_token_answers_401_token_validation_error",
            "test_auth::test_tokens_with_wrong_signature_type_version_or_key_answer_401",
            "test_auth::test_admin_routes_and_presigned_downloads_need_no_token",
        ),
    ),
    Requirement(
        "AUTH-WINDOW",
        "§5 [C claims; I enforcement]",
        "nbf/exp window on the emulator clock",
        ("test_auth::test_token_is_refused_before_nbf_and_from_exp_on_the_emulator_clock",),
    ),
    Requirement(
        "AUTH-ENV",
        "product.md; §5",
        "credentials from HMS_ACCESS_KEY/HMS_APP_SECRET or development defaults",
        ("test_auth::test_credentials_come_from_environment_with_development_defaults",),
    ),
    Requirement(
        "START-EMPTY",
        "§6 [O QA1]",
        "empty start body: 400 request body must not be empty",
        ("test_start_validation::test_start_with_empty_body_answers_400_request_body_must_not_be_empty",),
    ),
    Requirement(
        "START-BAD-JSON",
        "§6 [O QA1]",
        "malformed JSON: 400 with the position",
        ("test_start_validation::test_start_with_malformed_json_answers_400_with_the_position",),
    ),
    Requirement(
        "START-INVALID",
        "§6 [O QA1]",
        "meeting_url empty: 400 invalid input",
        ("test_start_validation::test_start_with_empty_meeting_url_answers_400_invalid_input",),
    ),
    Requirement(
        "START-TYPES",
        "§6 [I Go json idiom]",
        "wrong JSON types: 400 naming the field",
        ("test_start_validation::test_start_with_a_wrong_json_type_answers_400_naming_the_field",),
    ),
    Requirement(
        "START-RESOLUTION",
        "§4.4 [C sibling APIs; I]",
        "resolution bounds",
        ("test_start_validation::test_start_resolution_bounds",),
    ),
    Requirement(
        "START-TRANSCRIPTION",
        "§4.4 [C D:rec/start]",
        "transcription field validation",
        (
            "test_start_validation::test_start_with_invalid_transcription_answers_400_invalid_input",
            "test_start_validation::test_start_accepts_transcription_and_unknown_fields",
        ),
    ),
    Requirement(
        "START-LIMITS",
        "§2 [I]",
        "bodies above max_body_bytes: 413",
        ("test_start_validation::test_start_body_larger_than_the_limit_answers_413",),
    ),
    Requirement(
        "ASSET-CREATE",
        "§4.8, §9 [C types]; D/server-side/v2/api-reference/recordings/get-recording",
        "assets created on completion (transcripts and summary in processing, see TRANSCRIPTION-PROCESSING)",
        (
            "test_assets_and_presign::test_completion_creates_composite_with_resolution_and_chat",
            "test_assets_and_presign::test_transcription_adds_one_transcript_per_output_mode_and_a_summary",
        ),
    ),
    Requirement(
        "ASSET-GET",
        "§4.10 [I message]",
        "unknown asset: 404 recording asset not found",
        ("test_assets_and_presign::test_unknown_asset_answers_404_recording_asset_not_found",),
    ),
    Requirement(
        "PRESIGN",
        "§4.11 [C]",
        "presigned URL {id,path,url,expiry} that downloads the asset",
        ("test_assets_and_presign::test_presigned_url_downloads_the_asset_bytes_with_its_content_type",),
    ),
    Requirement(
        "PRESIGN-EXPIRY",
        "§4.11 [C default 3 days; I cap 604800]",
        "presign_duration, expiry and signature checks",
        (
            "test_assets_and_presign::test_presigned_url_expires_after_presign_duration_and_refuses_alterations",
            "test_assets_and_presign::test_presign_duration_out_of_range_or_not_integer_answers_400",
        ),
    ),
    Requirement(
        "PRESIGN-FAILED",
        "§4.8 [I]",
        "no download URL for a failed asset",
        ("test_assets_and_presign::test_presigned_url_for_a_failed_asset_answers_400",),
    ),
    Requirement(
        "WEBHOOK-EVENTS",
        "§8 [C]; D/server-side/v2/how-to-guides/configure-webhooks/webhook (beam.failure: Beam stopped too early)",
        "beam.* and transcription.* events in the 100ms envelope",
        (
            "test_webhooks::test_a_recording_emits_started_stopped_and_recording_success_in_the_100ms_envelope",
            "test_webhooks::test_stop_before_running_emits_beam_failure_beam_stopped",
            "test_webhooks::test_transcription_emits_transcription_events_with_asset_ids",
        ),
    ),
    Requirement(
        "WEBHOOK-METADATA",
        "D/server-side/v2/how-to-guides/configure-webhooks/webhook (metadata_id, metadata_timestamp)",
        "metadata_id a fresh UUID per message; metadata_timestamp the message's creation (send) time",
        ("test_webhooks::test_metadata_id_is_a_fresh_id_per_message_and_metadata_timestamp_the_send_time",),
    ),
    Requirement(
        "WEBHOOK-HEADERS",
        "D/server-side/v2/how-to-guides/configure-webhooks/secure-webhooks; issue 15",
        "--webhook-header NAME:VALUE (repeatable) sent with every delivery; malformed headers refused unechoed",
        (
            "test_webhooks::test_a_recording_emits_started_stopped_and_recording_success_in_the_100ms_envelope",
            "test_webhooks::test_webhook_header_flag_is_repeatable_and_refuses_malformed_headers_without_echoing_the_value",
            "test_webhooks::test_admin_replays_a_stored_event_and_sends_duplicates_with_the_same_envelope_id",
        ),
    ),
    Requirement(
        "ADMIN-REPLAY",
        "issue 15; D/server-side/v2/api-reference/analytics/replay-webhook-events",
        "admin API lists stored events, replays one and sends duplicates with the same envelope id",
        (
            "test_webhooks::test_admin_replays_a_stored_event_and_sends_duplicates_with_the_same_envelope_id",
            "test_webhooks::test_replay_without_a_webhook_url_answers_409_and_sends_nothing",
        ),
    ),
    Requirement(
        "TRANSCRIPTION-PROCESSING",
        "D/server-side/v2/api-reference/recordings/start-recording-for-room; "
        "D/server-side/v2/how-to-guides/enable-transcription-and-summary (Limitations) [I scale]",
        "transcripts/summary processing for max(20 % of duration, 5 min) x processing_time/60, then completed",
        (
            "test_transcription::"
            "test_transcripts_and_summary_stay_processing_for_20_percent_of_the_duration_or_5_minutes_scaled",
            "test_webhooks::test_transcription_emits_transcription_events_with_asset_ids",
        ),
    ),
    Requirement(
        "SUMMARY-SECTIONS",
        "D/server-side/v2/how-to-guides/enable-transcription-and-summary (Example Output Files, default values)",
        "summary.json is {summary: {sections: [{title, format, bullets, paragraph}]}} with the requested sections",
        (
            "test_transcription::test_summary_has_exactly_the_requested_sections_in_the_documented_shape",
            "test_transcription::test_summary_without_sections_uses_the_documented_template_defaults",
        ),
    ),
    Requirement(
        "TRANSCRIPT-FORMATS",
        "D/server-side/v2/how-to-guides/enable-transcription-and-summary (Example Output Files)",
        "json words[]/sentences[]; txt and srt lines labelled with the speaker",
        (
            "test_asset_content::test_json_transcript_has_words_and_sentences_with_speaker_and_millisecond_times",
            "test_asset_content::test_txt_and_srt_transcripts_label_every_line_with_its_speaker",
        ),
    ),
    Requirement(
        "CHAT-CSV",
        "D/get-started/v2/get-started/features/recordings/chat-recording (File structure)",
        "chat CSV header SenderPeerID,SenderName,SenderUserID,Roles,SentAt,Type,Message with plausible rows",
        ("test_asset_content::test_chat_csv_has_the_documented_header_and_plausible_broadcast_rows",),
    ),
    Requirement(
        "ASSET-THUMBNAILS",
        "D/server-side/v2/api-reference/recording-assets/get-asset; .../recording-assets/overview",
        "thumbnails present on every asset, null (only room-vod has thumbnails)",
        ("test_asset_content::test_every_asset_carries_thumbnails_null",),
    ),
    Requirement(
        "ASSET-PATHS",
        "D/get-started/v2/get-started/features/recordings/recording-assets/storage-configuration; "
        "D/get-started/v2/get-started/features/recordings/chat-recording [I transcript/summary]",
        "<prefix>/beam|chat|transcript|summary/<room_id>/<start_date>/Rec-<room_id>-<epoch>.<ext>",
        ("test_asset_content::test_storage_paths_follow_the_documented_beam_and_chat_forms",),
    ),
    Requirement(
        "DOWNLOAD-SIZE",
        "D/server-side/v2/api-reference/recording-assets/overview (size in bytes)",
        "a download is exactly size bytes with Content-Length",
        ("test_downloads::test_every_download_is_exactly_size_bytes_with_a_matching_content_length",),
    ),
    Requirement(
        "DOWNLOAD-MP4",
        "D/server-side/v2/api-reference/recording-assets/get-asset (room-composite mp4, resolution)",
        "the composite is an ISO BMFF MP4 that ffprobe reads without error, at the recorded resolution and duration",
        (
            "test_downloads::test_composite_download_is_an_mp4_that_ffprobe_reads_without_error",
            "test_downloads::test_ffprobe_reads_a_multi_gigabyte_composite_straight_from_its_presigned_url",
        ),
    ),
    Requirement(
        "DOWNLOAD-RANGE",
        "RFC 9110 §14 as object storage serves presigned URLs (§4.11) [I single range]",
        "Range bytes=a-b / a- / -n -> 206 + Content-Range; 416 beyond the end; If-Range; HEAD; resume over a socket",
        (
            "test_downloads::test_range_requests_answer_206_with_content_range_and_416_beyond_the_end",
            "test_downloads::test_an_interrupted_download_resumes_with_range_over_a_socket_to_the_same_bytes",
            "test_downloads::test_a_cut_fault_interrupts_a_download_after_n_bytes_and_a_range_request_resumes_it",
        ),
    ),
    Requirement(
        "DOWNLOAD-BOUNDED",
        "common rules (everything bounded)",
        "downloads stream in bounded chunks; memory does not grow with size",
        ("test_downloads::test_a_large_composite_streams_through_a_socket_in_bounded_memory",),
    ),
    Requirement(
        "WEBHOOK-BOUNDED",
        "common rules (everything bounded)",
        "webhook_queue_limit bounds waiting envelopes; overflow dropped and counted",
        ("test_webhooks::test_envelopes_beyond_the_webhook_queue_limit_are_dropped_and_counted",),
    ),
    Requirement(
        "FAULT-CUT",
        "product.md admin API; issue 18 (download resumes after an interruption)",
        "fault mode cut: status, headers and after_bytes of the body, then the connection closes",
        ("test_downloads::test_a_cut_fault_interrupts_a_download_after_n_bytes_and_a_range_request_resumes_it",),
    ),
    Requirement(
        "LAYOUT",
        "issue 12 (no import cycles; admin routes take the state; test-only code out of the wheel)",
        "no import cycles inside emulator/, type-only included; requirements manifest under tests/",
        (
            "test_module_layout::test_emulator_modules_import_each_other_without_a_cycle_even_for_type_checking",
            "test_module_layout::test_the_cycle_finder_reports_a_cycle_it_is_given",
            "test_module_layout::test_the_requirements_manifest_is_test_code_not_part_of_the_package",
        ),
    ),
    Requirement(
        "WEBHOOK-RETRY",
        "§8 [C D:wh overview]",
        "retries at +1 s, +3 s, +10 s when not 200",
        ("test_webhooks::test_non_200_answers_are_retried_at_1_3_and_10_seconds_on_the_emulator_clock",),
    ),
    Requirement(
        "ADMIN-RESET",
        "product.md admin API",
        "reset clears all state",
        ("test_admin_and_faults::test_reset_clears_recordings_log_and_faults",),
    ),
    Requirement(
        "ADMIN-LOG",
        "product.md admin API",
        "request log of /v2 requests",
        ("test_admin_and_faults::test_request_log_lists_api_requests_oldest_first_without_headers",),
    ),
    Requirement(
        "FAULT-ERROR",
        "product.md admin API",
        "fault mode error",
        ("test_admin_and_faults::test_error_fault_answers_its_status_with_retry_after_and_does_nothing",),
    ),
    Requirement(
        "FAULT-DROP",
        "product.md admin API",
        "fault modes drop and drop-after-commit",
        (
            "test_admin_and_faults::test_drop_fault_raises_a_remote_protocol_error_in_process_and_does_nothing",
            "test_admin_and_faults::test_drop_after_commit_does_the_work_then_drops",
            "test_socket_end_to_end::test_drop_fault_closes_the_socket_without_a_response",
        ),
    ),
    Requirement(
        "FAULT-RATE",
        "product.md admin API",
        "fault rate from a seeded generator",
        ("test_admin_and_faults::test_fault_rate_is_drawn_from_the_seeded_generator",),
    ),
    Requirement(
        "FAULT-LATENCY",
        "product.md admin API",
        "fault mode latency",
        ("test_admin_and_faults::test_latency_fault_only_delays",),
    ),
    Requirement(
        "FAULT-RULES",
        "product.md admin API",
        "fault rule validation and --faults FILE",
        (
            "test_admin_and_faults::test_invalid_fault_rules_answer_400_and_keep_the_old_rules",
            "test_admin_and_faults::test_faults_file_and_flags_build_the_config",
        ),
    ),
    Requirement(
        "CLOCK",
        "issue 2; product.md admin API",
        "manual clock advanced through POST /_emulator/clock",
        ("test_admin_and_faults::test_clock_advance_is_refused_on_a_real_clock_and_validated_on_a_manual_one",),
    ),
    Requirement(
        "BAD-INPUT",
        "§2, §6 [I]",
        "no malformed request gets a 500 or changes state",
        (
            "test_bad_input_properties::test_arbitrary_start_bytes_never_answer_500",
            "test_bad_input_properties::test_arbitrary_json_start_bodies_answer_200_or_400_and_only_200_creates",
            "test_bad_input_properties::test_arbitrary_query_strings_never_answer_500",
            "test_bad_input_properties::test_odd_paths_answer_clean_4xx",
            "test_bad_input_properties::test_encoded_slashes_and_traversal_are_rejected_cleanly",
        ),
    ),
    Requirement(
        "OPENAPI",
        "issue 2",
        "a complete OpenAPI 3.1 description of the /v2 routes",
        (
            "test_openapi::test_openapi_document_describes_every_v2_route_with_operation_ids_and_schemas",
            "test_openapi::test_openapi_references_resolve_and_path_parameters_are_declared",
        ),
    ),
    Requirement(
        "E2E-SOCKET",
        "§1",
        "the emulator works over a real socket",
        ("test_socket_end_to_end::test_recording_round_trip_and_download_over_a_real_socket",),
    ),
)
