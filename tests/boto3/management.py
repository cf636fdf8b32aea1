"""A user's own AWS tool against the emulator's Management API: boto3's
`apigatewaymanagementapi` client, with whatever credentials the environment holds.

    management.py ENDPOINT CONNECTION OTHER_CONNECTION

Posts a chat frame to CONNECTION, describes it, closes OTHER_CONNECTION and posts to it again;
prints one JSON line of what each call answered (the HTTP status and AWS error code of a
refusal), for tests/boto3.rs to check.
"""

import json
import sys

import boto3
import botocore.config
import botocore.exceptions


def call(what, **kwargs):
    try:
        answer = what(**kwargs)
        return {"status": answer["ResponseMetadata"]["HTTPStatusCode"], "answer": answer}
    except botocore.exceptions.ClientError as err:
        return {
            "status": err.response["ResponseMetadata"]["HTTPStatusCode"],
            "code": err.response["Error"]["Code"],
        }


def main():
    endpoint, connection, other = sys.argv[1:4]
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    frame = {"type": "message", "from": "boto3", "text": "hello from boto3"}
    post = call(client.post_to_connection, ConnectionId=connection, Data=json.dumps(frame).encode())
    info = call(client.get_connection, ConnectionId=connection)
    if "answer" in info:
        described = info["answer"]
        info["answer"] = {"sourceIp": described["Identity"]["SourceIp"]}
    post.pop("answer", None)
    delete = call(client.delete_connection, ConnectionId=other)
    delete.pop("answer", None)
    after = call(client.post_to_connection, ConnectionId=other, Data=b"{}")
    after.pop("answer", None)
    print(json.dumps({"post": post, "get": info, "delete": delete, "post_after_delete": after}))


if __name__ == "__main__":
    main()
