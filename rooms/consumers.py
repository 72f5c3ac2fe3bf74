from channels.generic.websocket import AsyncJsonWebsocketConsumer


class MeetingConsumer(AsyncJsonWebsocketConsumer):
    pass
